package doctor

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// loadLocalSettings checks local.settings.json of the app as `func start`
// reads it. The settings themselves are applied by server.Load, exactly as
// the handler applies them outside the host (the environment wins); with
// count, the Values the environment does not set are reported as applied.
func (r *runner) loadLocalSettings(count bool) {
	const check = "local.settings.json"
	path := filepath.Join(r.opts.Dir, server.LocalSettingsFile)
	ls, err := server.ReadLocalSettings(path)
	if err != nil {
		e := apperr.As(err) // the handler refuses to start on it too
		r.add(finding(check, Fail, e.Code, e.Message, e.Hint, nil))
		return
	}
	if ls == nil {
		return // deployed apps have none; the environment is everything
	}
	r.local = ls
	if ls.IsEncrypted {
		r.add(finding(check, Warn, apperr.CodeConfigInvalid, path+" is encrypted (IsEncrypted true): the doctor cannot read its Values", "Run `func settings decrypt`, or set the settings in the environment.", nil))
		return
	}
	env := server.EnvFrom(r.opts.Environ())
	values, nonString := ls.Strings()
	var applied []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v := values[k]
		if k == "FUNCTIONS_WORKER_RUNTIME" && !strings.EqualFold(v, "custom") {
			r.add(finding(check, Fail, apperr.CodeConfigInvalid, fmt.Sprintf("FUNCTIONS_WORKER_RUNTIME is %q: `func start` does not start a custom handler", v), "Set \"FUNCTIONS_WORKER_RUNTIME\": \"custom\" in Values.", nil))
		}
		if _, set := env.Lookup(k); set || !count || server.UnderHost(env) {
			continue
		}
		applied = append(applied, k)
	}
	if len(nonString) > 0 {
		r.add(finding(check, Fail, apperr.CodeConfigInvalid, fmt.Sprintf("Values %s are not strings: every value of local.settings.json must be a JSON string", strings.Join(nonString, ", ")), "Quote them, e.g. \"ALLOW_ANONYMOUS\": \"true\".", nil))
	}
	d := map[string]string{"file": path, "applied": strings.Join(applied, ",")}
	if ls.Host.CORS != "" {
		d["hostCORS"] = ls.Host.CORS
	}
	msg := fmt.Sprintf("%d settings read from %s as `func start` passes them (the environment wins)", len(applied), path)
	if server.UnderHost(env) {
		msg = path + " is not read: the environment is that of a Functions host (FUNCTIONS_WORKER_RUNTIME or FUNCTIONS_CUSTOMHANDLER_PORT is set), which has applied it already"
	}
	r.add(finding(check, Pass, "", msg, "", d))
}

// hostCORSAllows reports whether local.settings.json's Host.CORS lets
// `func start` answer CORS for origin with credentials.
func (r *runner) hostCORSAllows(origin string) (listed, credentials bool) {
	if r.local == nil || r.local.Host.CORS == "" {
		return false, false
	}
	list := strings.Split(r.local.Host.CORS, ",")
	for i := range list {
		list[i] = strings.TrimSuffix(strings.TrimSpace(list[i]), "/")
	}
	listed = slices.Contains(list, origin) || slices.Contains(list, "*")
	return listed, r.local.Host.CORSCredentials
}
