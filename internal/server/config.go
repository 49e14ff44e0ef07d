package server

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Config is every setting of the handler, declared with envconfig's tags
// (envconfig, default, ignored; plus emptyisunset, ours). Load reads each
// field from the setting named, in its exact case, in its `envconfig` tag (in Azure: an app setting; under
// `func start`: a Values entry of local.settings.json; either way an
// environment variable of the handler). The README's settings table lists
// the same names, defaults and meanings.
type Config struct {
	// ConnectionString is the Azure SignalR Service connection string, the
	// setting the Functions SignalR extension reads.
	ConnectionString string `envconfig:"AzureSignalRConnectionString"`
	// HubName is the default hub.
	HubName string `envconfig:"AzureSignalRHubName" emptyisunset:"true" default:"chat"`
	// AllowedHubs are further hubs a client may pick with ?hub=.
	AllowedHubs []string `envconfig:"SIGNALR_ALLOWED_HUBS"`
	// TokenLifetime is the lifetime of client access tokens (1m to 24h).
	TokenLifetime time.Duration `envconfig:"SIGNALR_TOKEN_LIFETIME" default:"1h"`
	// ClaimTypes are the caller's claim types copied into the SignalR token
	// (the extension's ClaimTypeList).
	ClaimTypes []string `envconfig:"SIGNALR_CLAIM_TYPES"`

	// AllowAnonymous lets callers without credentials negotiate (no user id).
	AllowAnonymous bool `envconfig:"ALLOW_ANONYMOUS" default:"true"`
	// TrustEasyAuth trusts X-MS-CLIENT-PRINCIPAL* headers although
	// WEBSITE_AUTH_ENABLED is not true (for a proxy that sets them).
	TrustEasyAuth bool `envconfig:"AUTH_TRUST_EASYAUTH" default:"false"`
	// JWKSURL verifies bearer tokens with the identity provider's keys.
	JWKSURL string `envconfig:"AUTH_JWKS_URL"`
	// JWTSecret verifies HS256 bearer tokens (at least 32 bytes).
	JWTSecret string `envconfig:"AUTH_JWT_SECRET"`
	// JWTIssuer is the required iss of bearer tokens.
	JWTIssuer string `envconfig:"AUTH_JWT_ISSUER"`
	// JWTAudiences are the accepted aud values of bearer tokens.
	JWTAudiences []string `envconfig:"AUTH_JWT_AUDIENCE"`
	// JWTLeeway is the clock-skew allowance for exp and nbf.
	JWTLeeway time.Duration `envconfig:"AUTH_JWT_LEEWAY" default:"60s"`
	// UserIDClaim is the bearer claim that becomes the SignalR user id.
	UserIDClaim string `envconfig:"AUTH_USER_ID_CLAIM" default:"sub"`
	// DevAllowClientUserID lets a client choose its user id with the
	// x-ms-signalr-userid header. Development only: refused in Azure.
	DevAllowClientUserID bool `envconfig:"DEV_ALLOW_CLIENT_USER_ID" default:"false"`

	// CORSAllowedOrigins are the origins allowed to call the handler from a
	// browser; empty leaves CORS to the platform.
	CORSAllowedOrigins []string `envconfig:"CORS_ALLOWED_ORIGINS"`
	// CORSAllowCredentials answers Access-Control-Allow-Credentials: true,
	// which @microsoft/signalr needs (withCredentials defaults to true).
	CORSAllowCredentials bool `envconfig:"CORS_ALLOW_CREDENTIALS" default:"true"`

	// ListenHost is the address the handler binds; the Functions host calls
	// 127.0.0.1.
	ListenHost string `envconfig:"HANDLER_LISTEN_HOST" default:"127.0.0.1"`
	// Port is set by the Functions host.
	Port string `envconfig:"FUNCTIONS_CUSTOMHANDLER_PORT"`
	// LegacyPort is the older name of Port, still set by the host.
	LegacyPort string `envconfig:"FUNCTIONS_HTTPWORKER_PORT"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// ReadTimeout bounds the time a request body may take to arrive
	// (1s..10m; 0 means the default); headers have 10 s at most.
	ReadTimeout time.Duration `envconfig:"HANDLER_READ_TIMEOUT" default:"30s"`
	// IdleTimeout closes keep-alive connections idle this long (1s..1h; 0
	// means the default).
	IdleTimeout time.Duration `envconfig:"HANDLER_IDLE_TIMEOUT" default:"2m"`
	// MaxConnections caps open connections; at the cap new ones wait in the
	// kernel's backlog (16..1000000; 0 means the default).
	MaxConnections int `envconfig:"HANDLER_MAX_CONNECTIONS" default:"4096"`
	// MaxBodyMemoryMB bounds the request bodies held in memory at once, in
	// MiB; a request whose body does not fit waits for room (8..4096; 0
	// means the default).
	MaxBodyMemoryMB int `envconfig:"HANDLER_MAX_BODY_MEMORY_MB" default:"32"`
	// MaxInFlight bounds concurrent requests per function (negotiate and broadcast each); beyond it clients get 503
	// request.overloaded at once instead of queueing (0 = no bound).
	MaxInFlight int `envconfig:"HANDLER_MAX_IN_FLIGHT" default:"0"`
	// RESTTimeout bounds one try of a REST call to the service.
	RESTTimeout time.Duration `envconfig:"SIGNALR_REST_TIMEOUT" default:"10s"`
	// InvokeMaxTimeout is the default and the largest timeout of POST
	// /api/invoke (how long a client may take to answer).
	InvokeMaxTimeout time.Duration `envconfig:"SIGNALR_INVOKE_MAX_TIMEOUT" default:"30s"`
	// HealthInterval is how often every endpoint's HEAD /api/health is
	// probed in the background (0 disables probing).
	HealthInterval time.Duration `envconfig:"SIGNALR_HEALTH_INTERVAL" default:"30s"`
	// BroadcastRequireAuth refuses broadcast callers without a validated
	// identity (same rules as negotiate), on top of the function key.
	BroadcastRequireAuth bool `envconfig:"BROADCAST_REQUIRE_AUTH" default:"false"`
	// BroadcastRequiredRole is a role claim the broadcast caller must have.
	BroadcastRequiredRole string `envconfig:"BROADCAST_REQUIRED_ROLE"`

	// DevChatPage serves the development chat page at /.
	DevChatPage bool `envconfig:"DEV_CHAT_PAGE" default:"false"`

	// WebsiteAuthEnabled is set by App Service when its authentication is on.
	WebsiteAuthEnabled bool `envconfig:"WEBSITE_AUTH_ENABLED" default:"false"`
	// WebsiteInstanceID is set by App Service: its presence means "in Azure".
	WebsiteInstanceID string `envconfig:"WEBSITE_INSTANCE_ID"`

	// Upstream (upstream_config.go): the hub methods' timeout and how calls
	// from endpoints without an AccessKey are authenticated.
	UpstreamTimeout       time.Duration `envconfig:"UPSTREAM_TIMEOUT" default:"30s"`
	UpstreamJWKSURL       string        `envconfig:"UPSTREAM_JWKS_URL" default:"https://login.microsoftonline.com/common/discovery/v2.0/keys"`
	UpstreamTokenIssuer   string        `envconfig:"UPSTREAM_TOKEN_ISSUER"`
	UpstreamTokenAudience []string      `envconfig:"UPSTREAM_TOKEN_AUDIENCE"`
	UpstreamAllowUnsigned bool          `envconfig:"UPSTREAM_ALLOW_UNSIGNED" default:"false"`

	// LocalHTTPPort is Host.LocalHttpPort of local.settings.json (read only
	// from the file, outside the host): the port when neither
	// FUNCTIONS_CUSTOMHANDLER_PORT nor FUNCTIONS_HTTPWORKER_PORT is set.
	LocalHTTPPort string `envconfig:"Host.LocalHttpPort"`
	// EndpointSettings are the endpoint settings Load found, as KEY=VALUE
	// entries (AzureSignalRConnectionString__*, Azure__SignalR__Endpoints__*;
	// see ReadEndpoints). New reads the endpoints from them.
	EndpointSettings []string `ignored:"true"`
	// Sources says which settings Load read from where.
	Sources Sources `ignored:"true"`
}

// Token lifetime bounds.
const (
	MinTokenLifetime = time.Minute
	MaxTokenLifetime = 24 * time.Hour
)

// Load reads the settings from env (the process environment in the
// handler; a literal in tests) and validates them. Outside the Functions
// host (see [UnderHost]) it also reads local.settings.json in dir, as
// `func start` would have passed it: Values as settings, Host.LocalHttpPort
// as the port, Host.CORS and Host.CORSCredentials as CORS_ALLOWED_ORIGINS
// and CORS_ALLOW_CREDENTIALS; env wins over the file. Config.Sources says
// what was read from where. Errors are *apperr.Error with a config.* code
// naming the setting.
func Load(env Env, dir string) (Config, error) {
	var c Config
	merged, src, err := withLocalSettings(env, dir)
	if err != nil {
		return c, err
	}
	c.Sources = src
	if err := readSettings(&c, merged); err != nil {
		return c, err
	}
	c.EndpointSettings = endpointEntries(merged)
	c.AllowedHubs = trimList(c.AllowedHubs)
	c.ClaimTypes = trimList(c.ClaimTypes)
	c.JWTAudiences = trimList(c.JWTAudiences)
	c.CORSAllowedOrigins = trimList(c.CORSAllowedOrigins)
	return c, c.Validate()
}

// readSettings sets every field of c that has an `envconfig` tag from env,
// exactly as named (Functions-style names are mixed case, and on Linux
// environment names are case-sensitive; envconfig.Process would look up
// the upper-cased name only, and reads the process environment, so the
// values are read here through the injected env). An unset setting takes
// the field's `default` tag; a set but empty one is used as given (an empty
// bool, number or duration is invalid), except for fields tagged
// emptyisunset. Fields tagged ignored are derived by Load.
func readSettings(c *Config, env Env) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" || f.Tag.Get("ignored") == "true" {
			continue
		}
		val, ok := env.Lookup(name)
		if !ok || (val == "" && f.Tag.Get("emptyisunset") == "true") {
			val, ok = f.Tag.Get("default"), false
		}
		if !ok && val == "" {
			continue
		}
		if err := setField(v.Field(i), val); err != nil {
			return apperr.New(apperr.CodeConfigInvalid,
				fmt.Sprintf("setting %s has an invalid value for type %s", name, typeName(f.Type)),
				"Fix the value; the README's settings table gives the format of every setting.")
		}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// setField parses s into f: a string, a comma list, a bool, an int or a
// time.Duration.
func setField(f reflect.Value, s string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(s)
		f.SetInt(int64(d))
		return err
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		f.SetBool(b)
		return err
	case f.Kind() == reflect.Int:
		n, err := strconv.ParseInt(s, 0, 0)
		f.SetInt(n)
		return err
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		if strings.TrimSpace(s) != "" {
			f.Set(reflect.ValueOf(strings.Split(s, ",")))
		}
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Slice:
		return "comma list"
	}
	return t.Kind().String()
}

// Warnings returns what the settings accept but an operator should fix,
// each with its code; Run logs every one once at warn when it starts: a
// connection string without Version (the handler works without it, but
// older SDKs and tools that read the same setting require it), and a
// local.settings.json that was skipped because it is encrypted.
func (c Config) Warnings() []*apperr.Error {
	var out []*apperr.Error
	if c.Sources.FileSkipped == "encrypted" {
		out = append(out, apperr.New(apperr.CodeConfigInvalid,
			LocalSettingsFile+" is encrypted (IsEncrypted true): its Values were not read", "Run `func settings decrypt`, or set the settings in the environment."))
	}
	for _, ep := range ReadEndpoints(c, c.EndpointSettings) {
		if ep.Err == nil && ep.ConnectionString != nil && ep.ConnectionString.Version == "" {
			out = append(out, apperr.New(apperr.CodeConfigConnStrMissingVersion,
				ep.Setting+" has no Version; the handler works without it, but older SDKs and tools reading the same setting require it", ""))
		}
	}
	return out
}

// ListenPort is the port to listen on: FUNCTIONS_CUSTOMHANDLER_PORT, then
// FUNCTIONS_HTTPWORKER_PORT, then local.settings.json's Host.LocalHttpPort,
// else 7071 so that a frontend's URL is the same
// with and without the Functions host.
func (c Config) ListenPort() string {
	switch {
	case c.Port != "":
		return c.Port
	case c.LegacyPort != "":
		return c.LegacyPort
	case c.LocalHTTPPort != "":
		return c.LocalHTTPPort
	}
	return "7071"
}

// Defaults of the listener's settings, for a Config built in code.
const (
	DefaultReadTimeout     = 30 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultMaxConnections  = 4096
	DefaultMaxBodyMemoryMB = 32
)

// listenerDefaults returns c with the zero listener settings replaced by
// their defaults.
func (c Config) listenerDefaults() Config {
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxBodyMemoryMB == 0 {
		c.MaxBodyMemoryMB = DefaultMaxBodyMemoryMB
	}
	return c
}

// InAzure reports whether the handler runs on App Service / Functions in Azure.
func (c Config) InAzure() bool { return c.WebsiteInstanceID != "" }

// TrustClientPrincipal reports whether X-MS-CLIENT-PRINCIPAL* headers come
// from the platform.
func (c Config) TrustClientPrincipal() bool { return c.WebsiteAuthEnabled || c.TrustEasyAuth }

// Validate checks the settings that need no parsing of the connection
// string; the connection string itself is checked by New.
func (c Config) Validate() error {
	bad := func(setting, format string, args ...any) error {
		return apperr.New(apperr.CodeConfigInvalid, "setting "+setting+": "+fmt.Sprintf(format, args...), "")
	}
	if c.TokenLifetime < MinTokenLifetime || c.TokenLifetime > MaxTokenLifetime {
		return bad("SIGNALR_TOKEN_LIFETIME", "%s is outside %s..%s", c.TokenLifetime, MinTokenLifetime, MaxTokenLifetime)
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		return bad("AUTH_JWT_LEEWAY", "%s is outside 0s..5m", c.JWTLeeway)
	}
	if c.RESTTimeout < 100*time.Millisecond || c.RESTTimeout > 2*time.Minute {
		return bad("SIGNALR_REST_TIMEOUT", "%s is outside 100ms..2m", c.RESTTimeout)
	}
	if c.InvokeMaxTimeout != 0 && (c.InvokeMaxTimeout < time.Second || c.InvokeMaxTimeout > 10*time.Minute) {
		return bad("SIGNALR_INVOKE_MAX_TIMEOUT", "%s is outside 1s..10m", c.InvokeMaxTimeout)
	}
	if c.HealthInterval != 0 && (c.HealthInterval < time.Second || c.HealthInterval > time.Hour) {
		return bad("SIGNALR_HEALTH_INTERVAL", "%s is outside 1s..1h (0 disables probing)", c.HealthInterval)
	}
	// The listener's settings: 0 (a Config built in code) means the default.
	if c.ReadTimeout != 0 && (c.ReadTimeout < time.Second || c.ReadTimeout > 10*time.Minute) {
		return bad("HANDLER_READ_TIMEOUT", "%s is outside 1s..10m", c.ReadTimeout)
	}
	if c.IdleTimeout != 0 && (c.IdleTimeout < time.Second || c.IdleTimeout > time.Hour) {
		return bad("HANDLER_IDLE_TIMEOUT", "%s is outside 1s..1h", c.IdleTimeout)
	}
	if c.MaxConnections != 0 && (c.MaxConnections < 16 || c.MaxConnections > 1000000) {
		return bad("HANDLER_MAX_CONNECTIONS", "%d is outside 16..1000000", c.MaxConnections)
	}
	if c.MaxBodyMemoryMB != 0 && (c.MaxBodyMemoryMB < 8 || c.MaxBodyMemoryMB > 4096) {
		return bad("HANDLER_MAX_BODY_MEMORY_MB", "%d is outside 8..4096", c.MaxBodyMemoryMB)
	}
	if c.MaxInFlight < 0 {
		return bad("HANDLER_MAX_IN_FLIGHT", "must not be negative")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	p := c.ListenPort()
	if n, err := parsePort(p); err != nil || n == 0 {
		return bad("FUNCTIONS_CUSTOMHANDLER_PORT", "%q is not a port number", p)
	}
	if c.DevAllowClientUserID && c.InAzure() {
		return apperr.New(apperr.CodeConfigDevUserIDInAzure,
			"DEV_ALLOW_CLIENT_USER_ID=true lets any client choose its user id and is refused in Azure (WEBSITE_INSTANCE_ID is set)", "")
	}
	for _, o := range c.CORSAllowedOrigins {
		if o == "*" && c.CORSAllowCredentials {
			return apperr.New(apperr.CodeConfigCORSWildcardCredentials,
				"CORS_ALLOWED_ORIGINS contains * while CORS_ALLOW_CREDENTIALS is true: browsers reject Access-Control-Allow-Origin: * on credentialed requests, and @microsoft/signalr always sends credentials (withCredentials defaults to true)", "")
		}
		if o != "*" {
			if err := checkOrigin(o); err != nil {
				return bad("CORS_ALLOWED_ORIGINS", "%v", err)
			}
		}
	}
	if c.JWKSURL != "" && c.JWTSecret != "" {
		return apperr.New(apperr.CodeConfigIdentity, "AUTH_JWKS_URL and AUTH_JWT_SECRET are both set; choose one way to verify bearer tokens", "")
	}
	return c.validateUpstream()
}

func parsePort(s string) (int, error) {
	n := 0
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("bad port")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("bad port")
		}
		n = n*10 + int(r-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("bad port")
	}
	return n, nil
}

func trimList(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
