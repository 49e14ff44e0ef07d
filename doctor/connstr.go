package doctor

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/serverless-signalr/functions-go/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// endpointConf is one configured service endpoint whose connection string
// parsed.
type endpointConf struct {
	name    string // "default" or the name in Azure__SignalR__Endpoints__<name>
	setting string // the setting it was read from
	cs      *signalr.ConnectionString
	// dateSkew is the clock skew measured from this endpoint, for the auth
	// diagnosis; valid when skewKnown.
	skewKnown bool
	skew      float64 // seconds, service minus local
}

// Prefixes of the multiple-endpoint settings of the Functions extension.
var endpointPrefixes = []string{"Azure__SignalR__Endpoints__", "Azure:SignalR:Endpoints:"}

// connectionSettings returns (setting, value) of every connection string:
// AzureSignalRConnectionString first, then Azure__SignalR__Endpoints__* in
// name order.
func (r *runner) connectionSettings() [][2]string {
	var out [][2]string
	if strings.TrimSpace(r.cfg.ConnectionString) != "" {
		out = append(out, [2]string{"AzureSignalRConnectionString", r.cfg.ConnectionString})
	}
	var extra [][2]string
	for _, kv := range r.opts.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, p := range endpointPrefixes {
			if len(k) > len(p) && strings.EqualFold(k[:len(p)], p) {
				extra = append(extra, [2]string{k, v})
			}
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i][0] < extra[j][0] })
	return append(out, extra...)
}

func endpointName(setting string) string {
	for _, p := range endpointPrefixes {
		if len(setting) > len(p) && strings.EqualFold(setting[:len(p)], p) {
			return setting[len(p):]
		}
	}
	return "default"
}

func (r *runner) checkConnectionStrings() {
	settings := r.connectionSettings()
	if len(settings) == 0 {
		r.add(finding("connection string", Fail, apperr.CodeConfigConnStrMissing,
			"AzureSignalRConnectionString is not set (nor any Azure__SignalR__Endpoints__<name>)", "", nil))
		r.add(finding("endpoints", Skip, "", "no connection string: DNS, TCP, TLS, health, authentication and clock checks skipped", "Set AzureSignalRConnectionString (local.settings.json Values, or the app settings in Azure) and run the doctor again.", nil))
		return
	}
	for _, s := range settings {
		name := endpointName(s[0])
		check := "connection string"
		if name != "default" {
			check += " " + name
		}
		cs, err := signalr.ParseConnectionString(s[1])
		if err != nil {
			var ce *signalr.ConnectionStringError
			if errors.As(err, &ce) {
				d := map[string]string{"setting": s[0]}
				msg := s[0] + ": " + ce.Message
				if ce.Key != "" {
					d["key"] = ce.Key
					if !strings.Contains(ce.Message, ce.Key) {
						msg += " (property " + ce.Key + ")"
					}
				}
				r.add(finding(check, Fail, ce.Code, msg, ce.Hint, d))
			} else {
				r.add(finding(check, Fail, apperr.CodeConfigInvalid, s[0]+" is invalid", "", map[string]string{"setting": s[0]}))
			}
			continue
		}
		d := map[string]string{
			"setting":      s[0],
			"endpoint":     cs.Endpoint.Redacted(),
			"clientBase":   cs.ClientBase(),
			"serverBase":   cs.ServerBase(),
			"audienceBase": cs.AudienceBase(),
			"authType":     authTypeName(cs),
		}
		switch {
		case cs.UsesEntraID():
			r.add(finding(check, Fail, apperr.CodeConfigInvalid, fmt.Sprintf("%s uses AuthType=%s (Microsoft Entra ID), which this version of the handler does not support", s[0], cs.AuthType), "Use an AccessKey connection string (az signalr key list).", d))
			continue
		case !cs.HasVersion():
			r.add(finding(check, Warn, apperr.CodeConfigConnStrMissingVersion, s[0]+" parses but has no Version; old SDKs and tools require it", "", d))
		default:
			r.add(finding(check, Pass, "", fmt.Sprintf("%s parses: endpoint %s, AccessKey set, Version %s", s[0], cs.Endpoint.Redacted(), cs.Version), "", d))
		}
		r.endpoints = append(r.endpoints, endpointConf{name: name, setting: s[0], cs: cs})
	}
}

func authTypeName(cs *signalr.ConnectionString) string {
	if cs.AuthType == signalr.AuthTypeAccessKey {
		return "accesskey"
	}
	return string(cs.AuthType)
}
