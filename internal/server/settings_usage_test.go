package server

import (
	"reflect"
	"strings"
	"testing"
)

// TestWriteSettingsUsageListsEverySetting: the table `handler --help`
// prints has one line per setting Load reads, in its exact case, with its
// default.
func TestWriteSettingsUsageListsEverySetting(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteSettingsUsage(&b); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	typ := reflect.TypeFor[Config]()
	n := 0
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" {
			continue
		}
		n++
		l, ok := lines[name]
		if !ok {
			t.Errorf("usage lacks %s:\n%s", name, b.String())
			continue
		}
		if d := f.Tag.Get("default"); d != "" && !strings.HasSuffix(strings.TrimSpace(l), d) {
			t.Errorf("usage line %q lacks the default %q", l, d)
		}
	}
	if len(lines) != n+1 { // + the header
		t.Errorf("usage has %d lines, want %d settings and a header:\n%s", len(lines), n, b.String())
	}
}
