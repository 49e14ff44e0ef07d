package server

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting keeps the README's settings table complete.
func TestREADMEListsEverySetting(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[Config]()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := f.Tag.Get("envconfig")
		if f.Tag.Get("ignored") == "true" { // derived by Load, not a setting
			continue
		}
		if name == "" {
			t.Errorf("field %s has no setting name", f.Name)
			continue
		}
		if !strings.Contains(string(b), "| `"+name+"` |") {
			t.Errorf("README's settings table lacks %s", name)
		}
	}
}
