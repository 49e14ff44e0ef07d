package doctor

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/serverless-signalr/functions-go/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// endpointConf is one configured service endpoint whose settings parsed.
type endpointConf struct {
	name    string // "default" or the name in Azure__SignalR__Endpoints__<name>
	setting string // the setting it was read from
	cs      *signalr.ConnectionString
	// skew is the clock skew measured from this endpoint in seconds
	// (service minus local), valid when skewKnown.
	skewKnown bool
	skew      float64
}

// endpointSetting is one endpoint as configured, before parsing: a
// connection string, or identity-based properties (serviceUri, …).
type endpointSetting struct {
	name, setting string
	connStr       string
	identity      map[string]string // lower-cased property -> value
}

const (
	singleSetting   = "AzureSignalRConnectionString"
	endpointsPrefix = "Azure__SignalR__Endpoints__"
)

// endpointSettings collects the endpoints as the handler does:
// AzureSignalRConnectionString (or its identity-based
// AzureSignalRConnectionString__serviceUri/…), then
// Azure__SignalR__Endpoints__<name>[__primary|__secondary][__<property>],
// by name.
func (r *runner) endpointSettings() ([]endpointSetting, []Finding) {
	byName := map[string]*endpointSetting{}
	var order []string
	var bad []Finding
	get := func(name, setting string) *endpointSetting {
		k := strings.ToLower(name)
		s, ok := byName[k]
		if !ok {
			s = &endpointSetting{name: name, setting: setting, identity: map[string]string{}}
			byName[k] = s
			order = append(order, k)
		}
		return s
	}
	if strings.TrimSpace(r.cfg.ConnectionString) != "" {
		get("default", singleSetting).connStr = r.cfg.ConnectionString
	}
	for _, kv := range r.opts.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch {
		case len(k) > len(singleSetting)+2 && strings.EqualFold(k[:len(singleSetting)+2], singleSetting+"__"):
			get("default", singleSetting).identity[strings.ToLower(k[len(singleSetting)+2:])] = v
		case len(k) > len(endpointsPrefix) && strings.EqualFold(k[:len(endpointsPrefix)], endpointsPrefix):
			parts := strings.Split(k[len(endpointsPrefix):], "__")
			if parts[0] == "" {
				bad = append(bad, finding("connection string", Fail, apperr.CodeConfigEndpoints, "setting "+k+" has no endpoint name", "", nil))
				continue
			}
			rest := parts[1:]
			if len(rest) > 0 && (strings.EqualFold(rest[0], "primary") || strings.EqualFold(rest[0], "secondary")) {
				rest = rest[1:]
			}
			s := get(parts[0], k)
			switch len(rest) {
			case 0:
				s.connStr, s.setting = v, k
			case 1:
				s.identity[strings.ToLower(rest[0])] = v
			default:
				bad = append(bad, finding("connection string "+parts[0], Fail, apperr.CodeConfigEndpoints, "setting "+k+" is not of the form "+endpointsPrefix+"<name>[__primary|__secondary][__<property>]", "", nil))
			}
		}
	}
	out := make([]endpointSetting, 0, len(order))
	for _, k := range order {
		out = append(out, *byName[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].name == "default" || (out[j].name != "default" && out[i].name < out[j].name)
	})
	return out, bad
}

// identityConnectionString turns identity-based properties into the
// equivalent connection string, as the handler does.
func identityConnectionString(s endpointSetting) (*signalr.ConnectionString, *Finding) {
	fail := func(code, msg, fix string) (*signalr.ConnectionString, *Finding) {
		f := finding("", Fail, code, msg, fix, map[string]string{"setting": s.setting})
		return nil, &f
	}
	uri := s.identity["serviceuri"]
	if uri == "" {
		return fail(apperr.CodeConfigConnStrMissing, s.setting+" is not set (neither a connection string nor "+s.setting+"__serviceUri)", "")
	}
	u, err := url.Parse(strings.TrimRight(uri, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(apperr.CodeConfigConnStrInvalidEndpoint, s.setting+"__serviceUri is not an absolute http(s) URL", "Write https://NAME.service.signalr.net.")
	}
	cs := &signalr.ConnectionString{Endpoint: u, AuthType: signalr.AuthTypeAzure, Version: "1.0"}
	for _, p := range []struct {
		key string
		dst **url.URL
	}{{"serverendpoint", &cs.ServerEndpoint}, {"clientendpoint", &cs.ClientEndpoint}} {
		if v := s.identity[p.key]; v != "" {
			pu, err := url.Parse(strings.TrimRight(v, "/"))
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				return fail(apperr.CodeConfigConnStrInvalidEndpoint, s.setting+"__"+p.key+" is not an absolute http(s) URL", "")
			}
			*p.dst = pu
		}
	}
	if strings.EqualFold(s.identity["credential"], "managedidentity") {
		cs.AuthType = signalr.AuthTypeAzureMSI
	}
	return cs, nil
}

func (r *runner) checkConnectionStrings() {
	settings, bad := r.endpointSettings()
	for _, f := range bad {
		r.add(f)
	}
	if len(settings) == 0 {
		r.add(finding("connection string", Fail, apperr.CodeConfigConnStrMissing,
			"AzureSignalRConnectionString is not set (nor any Azure__SignalR__Endpoints__<name>)", "", nil))
		r.add(finding("endpoints", Skip, "", "no connection string: DNS, TCP, TLS, health, authentication and clock checks skipped", "Set AzureSignalRConnectionString (local.settings.json Values, or the app settings in Azure) and run the doctor again.", nil))
		return
	}
	for _, s := range settings {
		check := "connection string"
		if s.name != "default" {
			check += " " + s.name
		}
		var cs *signalr.ConnectionString
		if s.connStr == "" {
			var f *Finding
			if cs, f = identityConnectionString(s); f != nil {
				f.Check = check
				r.add(*f)
				continue
			}
		} else {
			var err error
			if cs, err = signalr.ParseConnectionString(s.connStr); err != nil {
				var ce *signalr.ConnectionStringError
				if errors.As(err, &ce) {
					d := map[string]string{"setting": s.setting}
					msg := s.setting + ": " + ce.Message
					if ce.Key != "" {
						d["key"] = ce.Key
						if !strings.Contains(ce.Message, ce.Key) {
							msg += " (property " + ce.Key + ")"
						}
					}
					r.add(finding(check, Fail, ce.Code, msg, ce.Hint, d))
				} else {
					r.add(finding(check, Fail, apperr.CodeConfigInvalid, s.setting+" is invalid", "", map[string]string{"setting": s.setting}))
				}
				continue
			}
		}
		d := map[string]string{
			"setting":      s.setting,
			"endpoint":     cs.Endpoint.Redacted(),
			"clientBase":   cs.ClientBase(),
			"serverBase":   cs.ServerBase(),
			"audienceBase": cs.AudienceBase(),
			"authType":     authTypeName(cs),
		}
		switch {
		case cs.UsesEntraID():
			r.add(finding(check, Pass, "", fmt.Sprintf("%s: endpoint %s with Microsoft Entra ID (%s)", s.setting, cs.Endpoint.Redacted(), authTypeName(cs)), "", d))
		case !cs.HasVersion():
			r.add(finding(check, Warn, apperr.CodeConfigConnStrMissingVersion, s.setting+" parses but has no Version; old SDKs and tools require it", "", d))
		default:
			r.add(finding(check, Pass, "", fmt.Sprintf("%s parses: endpoint %s, AccessKey set, Version %s", s.setting, cs.Endpoint.Redacted(), cs.Version), "", d))
		}
		r.endpoints = append(r.endpoints, endpointConf{name: s.name, setting: s.setting, cs: cs})
	}
}

func authTypeName(cs *signalr.ConnectionString) string {
	if cs.AuthType == signalr.AuthTypeAccessKey {
		return "accesskey"
	}
	return "AuthType=" + string(cs.AuthType)
}
