package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Env is a set of settings by name: in the handler the process environment
// (EnvFrom(os.Environ()), read once by main), in tests a literal. Nothing
// below cmd/handler reads or writes the process environment itself.
type Env map[string]string

// EnvFrom turns KEY=VALUE entries, as os.Environ returns them, into an Env.
// The first entry of a name wins, as with os.Getenv.
func EnvFrom(environ []string) Env {
	e := make(Env, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := e[k]; ok && k != "" && !seen {
			e[k] = v
		}
	}
	return e
}

// Lookup returns the value of the setting name and whether it is set, as
// os.LookupEnv does.
func (e Env) Lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// Get returns the value of the setting name, "" when it is not set.
func (e Env) Get(name string) string { return e[name] }

// Environ returns e as sorted KEY=VALUE entries.
func (e Env) Environ() []string {
	out := make([]string, 0, len(e))
	for _, k := range slices.Sorted(maps.Keys(e)) {
		out = append(out, k+"="+e[k])
	}
	return out
}

// hostSetVariables are set by the Functions host for its worker, or by App
// Service / `func start` for the whole app (FUNCTIONS_WORKER_RUNTIME, an app
// setting in Azure and a Values entry locally): any of them means the
// handler runs under a host that has already applied the settings. Sources:
// the reference notes on the custom handler protocol (§0.4 and §1.2:
// HttpWorkerProcess.cs sets the port, worker id and FUNCTIONS_APP_ROOT_PATH).
var hostSetVariables = []string{
	"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT",
	"FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "FUNCTIONS_HTTPWORKER_ID",
	"FUNCTIONS_APP_ROOT_PATH", "FUNCTIONS_WORKER_RUNTIME", "WEBSITE_INSTANCE_ID",
}

// UnderHost reports whether env is that of a process the Functions host (or
// App Service) started: then local.settings.json is not read, because
// `func start` has already turned it into the environment.
func UnderHost(env Env) bool {
	for _, k := range hostSetVariables {
		if _, ok := env[k]; ok {
			return true
		}
	}
	return false
}

// LocalSettingsFile is the file `func start` reads the app's local settings
// from, in the app's root (the handler's working directory).
const LocalSettingsFile = "local.settings.json"

// LocalSettings is the part of local.settings.json that `func start` applies
// (Azure Functions Core Tools: Values become the environment of the host
// and of the handler; Host configures the host's own HTTP listener).
type LocalSettings struct {
	// IsEncrypted is true when Values are encrypted (`func settings
	// encrypt`): only Core Tools on the same machine can read them.
	IsEncrypted bool `json:"IsEncrypted"`
	// Values are the app settings; every value must be a JSON string.
	Values map[string]json.RawMessage `json:"Values"`
	// Host is the local host's listener configuration.
	Host struct {
		LocalHTTPPort   int    `json:"LocalHttpPort"`
		CORS            string `json:"CORS"`
		CORSCredentials bool   `json:"CORSCredentials"`
	} `json:"Host"`
}

// ReadLocalSettings reads and parses the local.settings.json at path. It
// returns nil and no error when the file does not exist (deployed apps have
// none).
func ReadLocalSettings(path string) (*LocalSettings, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, apperr.Wrap(err, apperr.CodeConfigInvalid, path+" cannot be read")
	}
	var ls LocalSettings
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, apperr.New(apperr.CodeConfigInvalid, fmt.Sprintf("%s is not valid JSON: %v; `func start` refuses it", path, err),
			"Fix the JSON syntax (copy local.settings.json.sample).")
	}
	return &ls, nil
}

// Strings returns the Values that are JSON strings, and the sorted names of
// those that are not.
func (ls *LocalSettings) Strings() (values map[string]string, nonString []string) {
	values = make(map[string]string, len(ls.Values))
	for k, raw := range ls.Values {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			nonString = append(nonString, k)
			continue
		}
		values[k] = v
	}
	slices.Sort(nonString)
	return values, nonString
}

// Sources says which settings Load read from where (names only, never
// values).
type Sources struct {
	// File is the local.settings.json read, "" when none was.
	File string
	// FileSkipped says why local.settings.json was not read, when it was
	// not ("under the Functions host", "encrypted", "not found").
	FileSkipped string
	// FromFile are the settings taken from the file, sorted: names of
	// Values, and Host.CORS, Host.CORSCredentials, Host.LocalHttpPort for
	// the Host entries (which stand for CORS_ALLOWED_ORIGINS,
	// CORS_ALLOW_CREDENTIALS and the port).
	FromFile []string
	// FromEnvironment are the known settings taken from the environment,
	// sorted (the file's entries of the same name were ignored).
	FromEnvironment []string
}

// LogAttrs returns s as slog attributes.
func (s Sources) LogAttrs() []any {
	return []any{"file", s.File, "fileSkipped", s.FileSkipped, "fromFile", s.FromFile, "fromEnvironment", s.FromEnvironment}
}

// withLocalSettings returns env with the settings of dir's
// local.settings.json added under the names they stand for, unless the
// handler runs under the host; env wins over the file.
func withLocalSettings(env Env, dir string) (Env, Sources, error) {
	src := Sources{FromEnvironment: knownSettings(env)}
	if UnderHost(env) {
		src.FileSkipped = "under the Functions host"
		return env, src, nil
	}
	path := filepath.Join(dir, LocalSettingsFile)
	ls, err := ReadLocalSettings(path)
	if err != nil {
		return nil, src, err
	}
	if ls == nil {
		src.FileSkipped = "not found"
		return env, src, nil
	}
	if ls.IsEncrypted {
		src.FileSkipped = "encrypted"
		return env, src, nil
	}
	values, nonString := ls.Strings()
	if len(nonString) > 0 {
		return nil, src, apperr.New(apperr.CodeConfigInvalid,
			fmt.Sprintf("%s: Values %s are not strings: every value of local.settings.json must be a JSON string", path, strings.Join(nonString, ", ")),
			"Quote them, e.g. \"ALLOW_ANONYMOUS\": \"true\".")
	}
	from := map[string]string{} // setting -> where in the file, when not Values
	add := func(setting, entry, v string) {
		if _, ok := values[setting]; !ok { // Values of the same name win over Host
			values[setting], from[setting] = v, entry
		}
	}
	if ls.Host.CORS != "" {
		add(corsOriginsSetting, "Host.CORS", ls.Host.CORS)
		add(corsCredentialsSetting, "Host.CORSCredentials", strconv.FormatBool(ls.Host.CORSCredentials))
	}
	if ls.Host.LocalHTTPPort != 0 {
		add(localPortSetting, localPortSetting, strconv.Itoa(ls.Host.LocalHTTPPort))
	}
	merged := maps.Clone(env)
	if merged == nil {
		merged = Env{}
	}
	src.File = path
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if _, set := env[k]; set {
			continue
		}
		merged[k] = values[k]
		if e, ok := from[k]; ok {
			k = e
		}
		src.FromFile = append(src.FromFile, k)
	}
	slices.Sort(src.FromFile)
	return merged, src, nil
}

const (
	corsOriginsSetting     = "CORS_ALLOWED_ORIGINS"
	corsCredentialsSetting = "CORS_ALLOW_CREDENTIALS"
	// localPortSetting carries Host.LocalHttpPort among the settings
	// (Config.LocalHTTPPort); no environment variable has this name.
	localPortSetting = "Host.LocalHttpPort"
)

// knownSettings returns the sorted names in env that the handler reads.
func knownSettings(env Env) []string {
	var out []string
	for k := range env {
		if _, known := settingNames[k]; known || isEndpointSetting(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// settingNames are the names of Config's `envconfig` tags.
var settingNames = func() map[string]struct{} {
	m := map[string]struct{}{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("envconfig"); name != "" {
			m[name] = struct{}{}
		}
	}
	return m
}()

// isEndpointSetting reports whether an environment name is one of the
// endpoint settings ReadEndpoints reads (names compared ignoring case, as
// there).
func isEndpointSetting(k string) bool {
	hasPrefix := func(p string) bool { return len(k) >= len(p) && strings.EqualFold(k[:len(p)], p) }
	return strings.EqualFold(k, singleSetting) || hasPrefix(singleSetting+"__") || hasPrefix(endpointsPrefix)
}

// endpointEntries returns env's endpoint settings as sorted KEY=VALUE
// entries.
func endpointEntries(env Env) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if isEndpointSetting(k) {
			out = append(out, k+"="+env[k])
		}
	}
	return out
}
