package server

import (
	"io"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// settingsUsageFormat is envconfig's usage template for Config: each
// setting's exact name (envconfig's own key is upper-cased), its type and
// its default.
const settingsUsageFormat = `{{range .}}{{if .Tags.Get "envconfig"}}  {{.Tags.Get "envconfig"}}	{{usage_type .}}	{{usage_default .}}
{{end}}{{end}}`

// WriteSettingsUsage writes the table of every setting Load reads (name,
// type, default), rendered by envconfig from Config's tags, so the list
// `handler --help` prints cannot drift from what Load reads.
func WriteSettingsUsage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if _, err := io.WriteString(tw, "  SETTING\tTYPE\tDEFAULT\n"); err != nil {
		return err
	}
	if err := envconfig.Usagef("", &Config{}, tw, settingsUsageFormat); err != nil {
		return err
	}
	return tw.Flush()
}
