package server

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Config is every setting of the handler. Each field is read from the
// environment variable named in its envconfig tag (in Azure: an app setting;
// under `func start`: a Values entry of local.settings.json). The README's
// settings table lists the same names, defaults and meanings.
type Config struct {
	// ConnectionString is the Azure SignalR Service connection string, the
	// setting the Functions SignalR extension reads.
	ConnectionString string `envconfig:"-" setting:"AzureSignalRConnectionString"`
	// HubName is the default hub.
	HubName string `envconfig:"-" setting:"AzureSignalRHubName" default:"chat"`
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
	// MaxInFlight bounds concurrent requests per function (negotiate and broadcast each); beyond it clients get 503
	// request.overloaded at once instead of queueing (0 = no bound).
	MaxInFlight int `envconfig:"HANDLER_MAX_IN_FLIGHT" default:"0"`
	// RESTTimeout bounds one try of a REST call to the service.
	RESTTimeout time.Duration `envconfig:"SIGNALR_REST_TIMEOUT" default:"10s"`
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
}

// Token lifetime bounds.
const (
	MinTokenLifetime = time.Minute
	MaxTokenLifetime = 24 * time.Hour
)

// LoadConfig reads the settings from the environment and validates them.
// Errors are *apperr.Error with a config.* code naming the setting.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		var pe *envconfig.ParseError
		if asParseError(err, &pe) {
			return c, apperr.New(apperr.CodeConfigInvalid,
				fmt.Sprintf("setting %s has an invalid value for type %s", pe.KeyName, pe.TypeName),
				"Fix the value; the README's settings table gives the format of every setting.")
		}
		return c, apperr.Wrap(err, apperr.CodeConfigInvalid, "the settings could not be read")
	}
	readMixedCaseSettings(&c)
	c.AllowedHubs = trimList(c.AllowedHubs)
	c.ClaimTypes = trimList(c.ClaimTypes)
	c.JWTAudiences = trimList(c.JWTAudiences)
	c.CORSAllowedOrigins = trimList(c.CORSAllowedOrigins)
	return c, c.Validate()
}

// readMixedCaseSettings reads the Functions-style settings whose names are
// not all upper case (AzureSignalRConnectionString, ...): envconfig
// upper-cases every name before looking it up, and on Linux environment
// names are case-sensitive, so these fields carry a `setting` tag instead
// and are read here, exactly as named.
func readMixedCaseSettings(c *Config) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("setting")
		if name == "" {
			continue
		}
		val, ok := os.LookupEnv(name)
		if !ok || val == "" {
			val = f.Tag.Get("default")
		}
		v.Field(i).SetString(val)
	}
}

func asParseError(err error, target **envconfig.ParseError) bool {
	pe, ok := err.(*envconfig.ParseError)
	if ok {
		*target = pe
	}
	return ok
}

// ListenPort is the port to listen on: FUNCTIONS_CUSTOMHANDLER_PORT, then
// FUNCTIONS_HTTPWORKER_PORT, else 7071 so that a frontend's URL is the same
// with and without the Functions host.
func (c Config) ListenPort() string {
	switch {
	case c.Port != "":
		return c.Port
	case c.LegacyPort != "":
		return c.LegacyPort
	}
	return "7071"
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
	if c.HealthInterval != 0 && (c.HealthInterval < time.Second || c.HealthInterval > time.Hour) {
		return bad("SIGNALR_HEALTH_INTERVAL", "%s is outside 1s..1h (0 disables probing)", c.HealthInterval)
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
	return nil
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
