package doctor

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// checkCORS explains what a browser page on --origin experiences: the
// handler's preflight answer (server.PreflightDecision) and why the browser
// accepts or rejects it.
func (r *runner) checkCORS() {
	const check = "cors"
	origin := r.opts.Origin
	if origin == "" {
		r.add(finding(check, Skip, "", "no --origin given", "Pass --origin https://your.site (scheme://host:port of the page) to check CORS.", nil))
		return
	}
	d := map[string]string{"origin": origin, "allowedOrigins": strings.Join(r.cfg.CORSAllowedOrigins, ","), "credentials": fmt.Sprint(r.cfg.CORSAllowCredentials)}
	if u, err := url.Parse(origin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		r.add(finding(check, Fail, apperr.CodeCORSOriginDenied, fmt.Sprintf("%q is not an origin: browsers send scheme://host[:port] with no path, and CORS compares it exactly", origin), "Pass the page's origin, e.g. http://localhost:5173.", d))
		return
	}
	if slices.Contains(r.cfg.CORSAllowedOrigins, "*") && r.cfg.CORSAllowCredentials {
		r.add(finding(check, Fail, apperr.CodeConfigCORSWildcardCredentials, "CORS_ALLOWED_ORIGINS contains * and CORS_ALLOW_CREDENTIALS is true: browsers reject Access-Control-Allow-Origin: * on a credentialed request, and @microsoft/signalr sends credentials (withCredentials defaults to true); the handler refuses to start with this combination", "", d))
		return
	}
	dec := server.PreflightDecision(r.cfg, origin)
	if len(dec.Headers) > 0 {
		keys := make([]string, 0, len(dec.Headers))
		for k := range dec.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var hs []string
		for _, k := range keys {
			hs = append(hs, k+": "+dec.Headers[k])
		}
		d["preflight"] = strings.Join(hs, "; ")
	}
	switch {
	case len(r.cfg.CORSAllowedOrigins) == 0:
		if listed, creds := r.hostCORSAllows(origin); listed && creds {
			r.add(finding(check, Pass, "", "the handler does not answer CORS, but local.settings.json Host.CORS lists "+origin+" with CORSCredentials true, so `func start` answers it; in Azure use `az functionapp cors add` and `az functionapp cors credentials --enable true`", "", d))
			return
		} else if listed {
			r.add(finding(check, Fail, apperr.CodeCORSOriginDenied, "local.settings.json Host.CORS lists "+origin+" but CORSCredentials is not true: browsers reject the credentialed negotiate of @microsoft/signalr", "Set \"CORSCredentials\": true under Host in local.settings.json.", d))
			return
		}
		r.add(finding(check, Warn, apperr.CodeCORSOriginDenied, "the handler does not answer CORS: "+dec.Reason, "If the page is on another origin: in Azure `az functionapp cors add --allowed-origins "+origin+"` and `az functionapp cors credentials --enable true`; locally Host.CORS and Host.CORSCredentials in local.settings.json; or set CORS_ALLOWED_ORIGINS="+origin+".", d))
	case !dec.Allowed:
		r.add(finding(check, Fail, apperr.CodeCORSOriginDenied, "a browser on "+origin+" is blocked: "+dec.Reason+"; the preflight gets 403 and the page sees a CORS error", "Add "+origin+" to CORS_ALLOWED_ORIGINS (exactly: scheme, host and port).", d))
	case !r.cfg.CORSAllowCredentials && r.corsFromHostSection():
		r.add(finding(check, Fail, apperr.CodeCORSOriginDenied, "local.settings.json Host.CORS lists "+origin+" but CORSCredentials is not true: browsers reject the credentialed negotiate of @microsoft/signalr", "Set \"CORSCredentials\": true under Host in local.settings.json.", d))
	case !r.cfg.CORSAllowCredentials:
		r.add(finding(check, Warn, apperr.CodeCORSOriginDenied, "a browser on "+origin+" passes the preflight, but "+dec.Reason, "Set CORS_ALLOW_CREDENTIALS=true, or create the client with withCredentials: false.", d))
	case dec.Headers["Access-Control-Allow-Origin"] != origin:
		r.add(finding(check, Fail, apperr.CodeCORSOriginDenied, fmt.Sprintf("the handler answers Access-Control-Allow-Origin %q, not the page's origin %q: a credentialed request is rejected", dec.Headers["Access-Control-Allow-Origin"], origin), "", d))
	case r.corsFromHostSection():
		r.add(finding(check, Pass, "", "a browser on "+origin+" is accepted: local.settings.json Host.CORS lists it with CORSCredentials true, so `func start` answers it, and so does the handler without a host; in Azure use `az functionapp cors add` and `az functionapp cors credentials --enable true`", "", d))
	default:
		r.add(finding(check, Pass, "", "a browser on "+origin+" is accepted: "+dec.Reason, "", d))
	}
}

// corsFromHostSection reports whether the loaded CORS origins came from
// local.settings.json's Host.CORS (server.Load applies it outside the host).
func (r *runner) corsFromHostSection() bool {
	return slices.Contains(r.cfg.Sources.FromFile, "Host.CORS")
}
