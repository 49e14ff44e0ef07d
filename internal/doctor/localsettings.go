package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// localSettings is the part of local.settings.json the doctor reads.
type localSettings struct {
	IsEncrypted bool                       `json:"IsEncrypted"`
	Values      map[string]json.RawMessage `json:"Values"`
	Host        struct {
		CORS            string `json:"CORS"`
		CORSCredentials bool   `json:"CORSCredentials"`
	} `json:"Host"`
}

// loadLocalSettings reads local.settings.json of the app, as `func start`
// does: under Core Tools its Values become the handler's environment. When
// apply is true, every Value not already in the environment is set in this
// process's environment (the environment wins, as with Core Tools), so that
// server.LoadConfig sees what the handler would see under `func start`.
func (r *runner) loadLocalSettings(apply bool) {
	const check = "local.settings.json"
	path := filepath.Join(r.opts.Dir, "local.settings.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // deployed apps have none; the environment is everything
	}
	if err != nil {
		r.add(finding(check, Warn, apperr.CodeConfigInvalid, fmt.Sprintf("%s cannot be read: %v", path, errors.Unwrap(err)), "", nil))
		return
	}
	var ls localSettings
	if err := json.Unmarshal(b, &ls); err != nil {
		r.add(finding(check, Fail, apperr.CodeConfigInvalid, fmt.Sprintf("%s is not valid JSON: %v; `func start` refuses it", path, err), "Fix the JSON syntax (copy local.settings.json.sample).", nil))
		return
	}
	r.local = &ls
	if ls.IsEncrypted {
		r.add(finding(check, Warn, apperr.CodeConfigInvalid, path+" is encrypted (IsEncrypted true): the doctor cannot read its Values", "Run `func settings decrypt`, or set the settings in the environment.", nil))
		return
	}
	keys := make([]string, 0, len(ls.Values))
	for k := range ls.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var applied, nonString []string
	for _, k := range keys {
		var v string
		if err := json.Unmarshal(ls.Values[k], &v); err != nil {
			nonString = append(nonString, k)
			continue
		}
		if k == "FUNCTIONS_WORKER_RUNTIME" && !strings.EqualFold(v, "custom") {
			r.add(finding(check, Fail, apperr.CodeConfigInvalid, fmt.Sprintf("FUNCTIONS_WORKER_RUNTIME is %q: `func start` does not start a custom handler", v), "Set \"FUNCTIONS_WORKER_RUNTIME\": \"custom\" in Values.", nil))
		}
		if _, set := os.LookupEnv(k); set || !apply {
			continue
		}
		if err := os.Setenv(k, v); err == nil {
			applied = append(applied, k)
		}
	}
	if len(nonString) > 0 {
		r.add(finding(check, Fail, apperr.CodeConfigInvalid, fmt.Sprintf("Values %s are not strings: every value of local.settings.json must be a JSON string", strings.Join(nonString, ", ")), "Quote them, e.g. \"ALLOW_ANONYMOUS\": \"true\".", nil))
	}
	d := map[string]string{"file": path, "applied": strings.Join(applied, ",")}
	if ls.Host.CORS != "" {
		d["hostCORS"] = ls.Host.CORS
	}
	r.add(finding(check, Pass, "", fmt.Sprintf("%d settings read from %s as `func start` passes them (the environment wins)", len(applied), path), "", d))
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
