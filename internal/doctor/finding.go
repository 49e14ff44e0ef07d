package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// Status is the outcome of one check.
type Status string

// Statuses of a [Finding].
const (
	// Pass means the check found nothing wrong.
	Pass Status = "PASS"
	// Warn means something works but is likely to cause trouble.
	Warn Status = "WARN"
	// Fail means the setup is broken; the doctor exits non-zero.
	Fail Status = "FAIL"
	// Skip means the check could not run (missing input or an earlier failure).
	Skip Status = "SKIP"
)

// Finding is the result of one check. Message says what was found (the
// cause when Status is Fail or Warn), Fix how to repair it. Neither ever
// contains an access key or a token.
type Finding struct {
	// Check names the check, e.g. "tls default" or "function negotiate".
	Check string `json:"check"`
	// Status is PASS, WARN, FAIL or SKIP.
	Status Status `json:"status"`
	// Code is an apperr code, "" for a pass or skip without one.
	Code string `json:"code"`
	// Message says what was found.
	Message string `json:"message"`
	// Fix says how to repair it; "" for a pass.
	Fix string `json:"fix"`
	// Details are facts behind the message (URLs, versions, sizes).
	Details map[string]string `json:"details"`
}

// String returns the finding as the doctor prints it:
// "FAIL  name  [code] message  → fix".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(string(f.Status))
	b.WriteString("  ")
	b.WriteString(f.Check)
	b.WriteString("  ")
	if f.Code != "" && f.Status != Pass {
		b.WriteString("[" + f.Code + "] ")
	}
	b.WriteString(f.Message)
	if f.Fix != "" && f.Status != Pass {
		b.WriteString("  → ")
		b.WriteString(f.Fix)
	}
	return b.String()
}

// Failed reports whether any finding has Status [Fail].
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Status == Fail {
			return true
		}
	}
	return false
}

// WriteText writes one line per finding, names aligned, followed by a
// summary line.
func WriteText(w io.Writer, fs []Finding) error {
	width := 0
	for _, f := range fs {
		width = max(width, len(f.Check))
	}
	counts := map[Status]int{}
	for _, f := range fs {
		counts[f.Status]++
		g := f
		g.Check = f.Check + strings.Repeat(" ", width-len(f.Check))
		if _, err := fmt.Fprintln(w, g.String()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d warnings, %d failed, %d skipped\n", counts[Pass], counts[Warn], counts[Fail], counts[Skip])
	return err
}

// WriteJSON writes the findings as a JSON array of
// {check, status, code, message, fix, details}.
func WriteJSON(w io.Writer, fs []Finding) error {
	out := make([]Finding, len(fs))
	for i, f := range fs {
		if f.Details == nil {
			f.Details = map[string]string{}
		}
		out[i] = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// Explain turns a configuration error of server.LoadConfig or server.New
// (an *apperr.Error, a *signalr.ConnectionStringError or any error) into
// the finding the doctor prints for it, under the check name "settings".
// The handler logs it at startup so that a failed start reads like the
// doctor's diagnosis.
func Explain(err error) Finding {
	f := Finding{Check: "settings", Status: Fail}
	if err == nil {
		f.Status, f.Message = Pass, "the settings load and validate"
		return f
	}
	var ce *signalr.ConnectionStringError
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae):
		f.Code, f.Message, f.Fix = ae.Code, ae.Message, ae.Hint
		var inner *signalr.ConnectionStringError
		if errors.As(ae.Err, &inner) && inner.Key != "" {
			f.Details = map[string]string{"key": inner.Key}
		}
	case errors.As(err, &ce):
		f.Code, f.Message = apperr.FromSignalR(ce).Code, "AzureSignalRConnectionString: "+ce.Message
		if ce.Key != "" {
			f.Details = map[string]string{"key": ce.Key}
		}
	default:
		f.Code, f.Message = apperr.CodeConfigInvalid, "the settings could not be read: "+err.Error()
	}
	if f.Fix == "" {
		if info, ok := apperr.Lookup(f.Code); ok {
			f.Fix = info.Fix
		}
	}
	return f
}

// finding builds a finding whose fix defaults to the registry's.
func finding(check string, st Status, code, msg, fix string, details map[string]string) Finding {
	if fix == "" && st != Pass && code != "" {
		if info, ok := apperr.Lookup(code); ok {
			fix = info.Fix
		}
	}
	return Finding{Check: check, Status: st, Code: code, Message: msg, Fix: fix, Details: details}
}
