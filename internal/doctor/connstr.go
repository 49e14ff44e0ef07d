package doctor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/signalr"
)

// endpointConf is one configured service endpoint whose settings parsed.
type endpointConf struct {
	name    string // "default" or the name in Azure__SignalR__Endpoints__<name>
	setting string // the setting it was read from
	cs      *signalr.ConnectionString
	ec      server.EndpointConfig // builds the SDK client the handler would use
	// skew is the clock skew measured from this endpoint in seconds
	// (service minus local), valid when skewKnown.
	skewKnown bool
	skew      float64
}

func (r *runner) checkConnectionStrings() {
	environ := r.opts.Environ()
	if r.cfg.EndpointSettings != nil { // loaded: the environment and local.settings.json
		environ = r.cfg.EndpointSettings
	}
	eps := server.ReadEndpoints(r.cfg, environ)
	if len(eps) == 0 {
		r.add(finding("connection string", Fail, apperr.CodeConfigConnStrMissing,
			"AzureSignalRConnectionString is not set (nor any Azure__SignalR__Endpoints__<name>)", "", nil))
		r.add(finding("endpoints", Skip, "", "no connection string: DNS, TCP, TLS, health, authentication and clock checks skipped", "Set AzureSignalRConnectionString (local.settings.json Values, or the app settings in Azure) and run the doctor again.", nil))
		return
	}
	for _, ep := range eps {
		check := "connection string"
		if ep.Name != "default" && ep.Name != "" {
			check += " " + ep.Name
		}
		if ep.Err != nil {
			e := apperr.As(ep.Err)
			d := map[string]string{"setting": ep.Setting}
			msg := e.Message
			var ce *signalr.ConnectionStringError
			if errors.As(ep.Err, &ce) && ce.Key != "" {
				d["key"] = ce.Key
				if !strings.Contains(msg, ce.Key) {
					msg += " (property " + ce.Key + ")"
				}
			}
			r.add(finding(check, Fail, e.Code, msg, e.Hint, d))
			continue
		}
		cs := ep.ConnectionString
		d := map[string]string{
			"setting":      ep.Setting,
			"endpoint":     cs.Endpoint.Redacted(),
			"clientBase":   cs.ClientBase(),
			"serverBase":   cs.ServerBase(),
			"audienceBase": cs.AudienceBase(),
			"authType":     authTypeName(cs),
		}
		switch {
		case cs.UsesEntraID():
			r.add(finding(check, Pass, "", fmt.Sprintf("%s: endpoint %s with Microsoft Entra ID (%s)", ep.Setting, cs.Endpoint.Redacted(), authTypeName(cs)), "", d))
		case !cs.HasVersion():
			r.add(finding(check, Warn, apperr.CodeConfigConnStrMissingVersion, ep.Setting+" parses but has no Version; old SDKs and tools require it", "", d))
		default:
			r.add(finding(check, Pass, "", fmt.Sprintf("%s parses: endpoint %s, AccessKey set, Version %s", ep.Setting, cs.Endpoint.Redacted(), cs.Version), "", d))
		}
		r.endpoints = append(r.endpoints, endpointConf{name: ep.Name, setting: ep.Setting, cs: cs, ec: ep})
	}
}

func authTypeName(cs *signalr.ConnectionString) string {
	if cs.AuthType == signalr.AuthTypeAccessKey {
		return "accesskey"
	}
	return "AuthType=" + string(cs.AuthType)
}
