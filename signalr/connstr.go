package signalr

import (
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AuthType is the lower-cased value of a connection string's AuthType
// property. It selects how a client authenticates to the service.
type AuthType string

// Recognised AuthType values. Any other value falls back to
// [AuthTypeAccessKey], as the .NET SDK does.
const (
	// AuthTypeAccessKey is the zero value: the connection string carries an
	// AccessKey that signs tokens locally.
	AuthTypeAccessKey AuthType = ""
	// AuthTypeAzure uses DefaultAzureCredential (Microsoft Entra ID).
	AuthTypeAzure AuthType = "azure"
	// AuthTypeAzureMSI uses a managed identity, user-assigned when ClientId is set.
	AuthTypeAzureMSI AuthType = "azure.msi"
	// AuthTypeAzureApp uses an application registration: ClientId, TenantId
	// and ClientSecret or ClientCert.
	AuthTypeAzureApp AuthType = "azure.app"
	// AuthTypeAAD is the legacy spelling whose credential depends on which of
	// ClientId, TenantId, ClientSecret and ClientCert are present.
	AuthTypeAAD AuthType = "aad"
)

// ConnectionStringErrorKind says which rule a connection string broke; it
// is the Kind of a [ConnectionStringError].
type ConnectionStringErrorKind int

// The kinds of [ConnectionStringError], in the order the parser checks them.
const (
	// ConnectionStringEmpty: the string is empty or white space.
	ConnectionStringEmpty ConnectionStringErrorKind = iota + 1
	// ConnectionStringMalformed: fewer than two non-empty ';'-separated entries.
	ConnectionStringMalformed
	// ConnectionStringDuplicateKey: a property appears twice (keys are case-insensitive).
	ConnectionStringDuplicateKey
	// ConnectionStringMissingEndpoint: there is no Endpoint.
	ConnectionStringMissingEndpoint
	// ConnectionStringInvalidEndpoint: Endpoint is not an absolute http(s) URL.
	ConnectionStringInvalidEndpoint
	// ConnectionStringInvalidVersion: Version is not 1.x.
	ConnectionStringInvalidVersion
	// ConnectionStringInvalidPort: Port is not an integer in 1..65535.
	ConnectionStringInvalidPort
	// ConnectionStringInvalidClientEndpoint: ClientEndpoint is not an absolute http(s) URL.
	ConnectionStringInvalidClientEndpoint
	// ConnectionStringInvalidServerEndpoint: ServerEndpoint is not an absolute http(s) URL.
	ConnectionStringInvalidServerEndpoint
	// ConnectionStringMissingAccessKey: AccessKey mode without an AccessKey.
	ConnectionStringMissingAccessKey
	// ConnectionStringMissingClientID: AuthType=azure.app without ClientId.
	ConnectionStringMissingClientID
	// ConnectionStringMissingTenantID: AuthType=azure.app without TenantId.
	ConnectionStringMissingTenantID
	// ConnectionStringMissingClientSecret: an application credential without
	// ClientSecret or ClientCert.
	ConnectionStringMissingClientSecret
)

var connStrKindNames = [...]string{"", "empty", "malformed", "duplicate_key", "missing_endpoint", "invalid_endpoint",
	"invalid_version", "invalid_port", "invalid_client_endpoint", "invalid_server_endpoint",
	"missing_access_key", "missing_client_id", "missing_tenant_id", "missing_client_secret"}

// String returns the kind in snake case, e.g. "missing_endpoint".
func (k ConnectionStringErrorKind) String() string {
	if k > 0 && int(k) < len(connStrKindNames) {
		return connStrKindNames[k]
	}
	return "ConnectionStringErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// ConnectionString is a parsed Azure SignalR Service connection string such
// as "Endpoint=https://NAME.service.signalr.net;AccessKey=KEY;Version=1.0;".
//
// Its String and LogValue methods redact AccessKey and ClientSecret.
type ConnectionString struct {
	// Endpoint is the absolute http(s) URL of the service with trailing
	// slashes trimmed, its host lower-cased and a default port dropped. Port
	// is not applied to it; use [ConnectionString.ClientBase] and
	// [ConnectionString.ServerBase] for request URLs.
	Endpoint *url.URL
	// Port is the Port property, 0 when absent. It replaces Endpoint's port
	// in request URLs, never in ClientEndpoint or ServerEndpoint.
	Port int
	// ClientEndpoint is the URL clients connect to, nil when absent.
	ClientEndpoint *url.URL
	// ServerEndpoint is the URL REST calls go to, nil when absent.
	ServerEndpoint *url.URL
	// AccessKey signs tokens in AccessKey mode. It is a secret.
	AccessKey string
	// Version is the Version property, "" when absent.
	Version string
	// AuthType is the lower-cased AuthType; unrecognised values become
	// AuthTypeAccessKey.
	AuthType AuthType
	// ClientID, TenantID, ClientSecret and ClientCert configure Microsoft
	// Entra ID credentials. ClientSecret is a secret; ClientCert is a file path.
	ClientID, TenantID, ClientSecret, ClientCert string
}

// ConnectionStringError reports why a connection string was refused. Its
// Message never contains the AccessKey or ClientSecret.
type ConnectionStringError struct {
	// Key is the offending property as written, "" when the error is not
	// about one property.
	Key string
	// Kind says which rule was broken.
	Kind ConnectionStringErrorKind
	// Message says what is wrong, naming the property as written.
	Message string
}

// Error returns "signalr: connection string: " and the message.
func (e *ConnectionStringError) Error() string {
	return "signalr: connection string: " + e.Message
}

// ParseConnectionString parses s with the rules of the official SDK:
// properties are separated by ';', each split on its first '=', keys are
// trimmed and case-insensitive, values trimmed; unknown keys are ignored.
// The error, when not nil, is a *[ConnectionStringError].
func ParseConnectionString(s string) (*ConnectionString, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &ConnectionStringError{Kind: ConnectionStringEmpty,
			Message: "the connection string is empty"}
	}
	// Count the non-empty entries first: fewer than two is an error even
	// when the one entry is an Endpoint.
	entries := 0
	for e := range strings.SplitSeq(s, ";") {
		if e != "" {
			entries++
		}
	}
	if entries < 2 {
		return nil, &ConnectionStringError{Kind: ConnectionStringMalformed,
			Message: "the connection string is missing required properties: it needs at least Endpoint and AccessKey (or AuthType), separated by ';'"}
	}

	var p props
	for e := range strings.SplitSeq(s, ";") {
		i := strings.IndexByte(e, '=')
		if i < 0 {
			continue
		}
		p.set(strings.TrimSpace(e[:i]), strings.TrimSpace(e[i+1:]))
	}
	if p.hasDup {
		// Reported after the scan so that the message can hide secrets
		// that appear later in the string.
		return nil, p.duplicate(p.dup)
	}
	return p.build()
}

// known property names, lower-cased.
const (
	propEndpoint = iota
	propPort
	propClientEndpoint
	propServerEndpoint
	propAccessKey
	propVersion
	propAuthType
	propClientID
	propTenantID
	propClientSecret
	propClientCert
	propCount
)

var propNames = [propCount]string{"endpoint", "port", "clientendpoint", "serverendpoint", "accesskey",
	"version", "authtype", "clientid", "tenantid", "clientsecret", "clientcert"}

// props collects the recognised properties of one connection string.
type props struct {
	val [propCount]string
	key [propCount]string // the key as written
	has [propCount]bool
	// seen holds unknown keys, lower-cased, to detect their duplicates too.
	seen map[string]struct{}
	// dup is the first repeated key, as written; hasDup tells whether there is one.
	dup    string
	hasDup bool
}

// set records one property; the first value of a repeated key stays.
func (p *props) set(key, val string) {
	for i, name := range propNames {
		if len(key) == len(name) && strings.EqualFold(key, name) {
			if p.has[i] {
				p.duplicateKey(key)
				return
			}
			p.has[i], p.key[i], p.val[i] = true, key, val
			return
		}
	}
	lk := strings.ToLower(key)
	if _, dup := p.seen[lk]; dup {
		p.duplicateKey(key)
		return
	}
	if p.seen == nil {
		p.seen = make(map[string]struct{})
	}
	p.seen[lk] = struct{}{}
}

// duplicateKey remembers the first repeated key.
func (p *props) duplicateKey(key string) {
	if !p.hasDup {
		p.dup, p.hasDup = key, true
	}
}

// duplicate returns the duplicate-key error, hiding a key that contains a secret.
func (p *props) duplicate(key string) error {
	q := p.quote(key)
	if q == hiddenValue {
		key = ""
	}
	return &ConnectionStringError{Key: key, Kind: ConnectionStringDuplicateKey,
		Message: "duplicate property " + q + " (keys are case-insensitive)"}
}

// hiddenValue replaces values that would reveal a secret in messages.
const hiddenValue = "(value hidden)"

// quote returns v quoted and truncated for an error message, or a
// placeholder when v would reveal the AccessKey or ClientSecret.
func (p *props) quote(v string) string {
	for _, i := range [...]int{propAccessKey, propClientSecret} {
		if secret := p.val[i]; secret != "" && (strings.Contains(v, secret) || (len(v) >= 8 && strings.Contains(secret, v))) {
			return hiddenValue
		}
	}
	const max = 80
	if len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut] + "…"
	}
	return strconv.Quote(v)
}

// keyName returns the property name as the user wrote it, or its canonical
// spelling when absent.
func (p *props) keyName(i int, canonical string) string {
	if p.key[i] != "" {
		return p.key[i]
	}
	return canonical
}

// build validates the collected properties in the order the official
// parser does: Endpoint, Version, Port, ClientEndpoint, ServerEndpoint, then
// the authentication settings.
func (p *props) build() (*ConnectionString, error) {
	cs := &ConnectionString{}

	// Endpoint.
	if !p.has[propEndpoint] {
		return nil, &ConnectionStringError{Key: "Endpoint", Kind: ConnectionStringMissingEndpoint,
			Message: "the connection string is missing the required property Endpoint"}
	}
	ep, ok := parseEndpoint(p.val[propEndpoint])
	if ok {
		// Endpoint's trailing slashes go from its path, not from its text:
		// "https://h/#/" and "https://h/" are the same endpoint, and a
		// query keeps its own. A fragment never reaches the service.
		ep.Path, ep.RawPath = strings.TrimRight(ep.Path, "/"), strings.TrimRight(ep.RawPath, "/")
		ep.Fragment, ep.RawFragment = "", ""
	}
	if !ok {
		k := p.keyName(propEndpoint, "Endpoint")
		return nil, &ConnectionStringError{Key: k, Kind: ConnectionStringInvalidEndpoint,
			Message: "invalid value for " + k + ": " + p.quote(p.val[propEndpoint]) + " is not an absolute http or https URL"}
	}
	cs.Endpoint = ep

	// Version.
	if p.has[propVersion] {
		v := p.val[propVersion]
		if !validVersion(v) {
			k := p.keyName(propVersion, "Version")
			return nil, &ConnectionStringError{Key: k, Kind: ConnectionStringInvalidVersion,
				Message: k + " " + p.quote(v) + " is not supported: it must be 1.x"}
		}
		cs.Version = v
	}

	// Port.
	if p.has[propPort] {
		n, err := strconv.Atoi(p.val[propPort])
		if err != nil || n < 1 || n > 65535 {
			k := p.keyName(propPort, "Port")
			return nil, &ConnectionStringError{Key: k, Kind: ConnectionStringInvalidPort,
				Message: "invalid value for " + k + ": " + p.quote(p.val[propPort]) + " is not an integer between 1 and 65535"}
		}
		cs.Port = n
	}

	// ClientEndpoint and ServerEndpoint.
	for _, e := range []struct {
		prop int
		name string
		kind ConnectionStringErrorKind
		dst  **url.URL
	}{
		{propClientEndpoint, "ClientEndpoint", ConnectionStringInvalidClientEndpoint, &cs.ClientEndpoint},
		{propServerEndpoint, "ServerEndpoint", ConnectionStringInvalidServerEndpoint, &cs.ServerEndpoint},
	} {
		if !p.has[e.prop] {
			continue
		}
		u, ok := parseEndpoint(p.val[e.prop])
		if !ok {
			k := p.keyName(e.prop, e.name)
			return nil, &ConnectionStringError{Key: k, Kind: e.kind,
				Message: "invalid value for " + k + ": " + p.quote(p.val[e.prop]) + " is not an absolute http or https URL"}
		}
		*e.dst = u
	}

	// Authentication.
	cs.ClientID = p.val[propClientID]
	cs.TenantID = p.val[propTenantID]
	cs.ClientSecret = p.val[propClientSecret]
	cs.ClientCert = p.val[propClientCert]
	cs.AccessKey = p.val[propAccessKey]
	switch at := AuthType(strings.ToLower(p.val[propAuthType])); at {
	case AuthTypeAzure, AuthTypeAzureMSI:
		cs.AuthType = at
	case AuthTypeAzureApp:
		cs.AuthType = at
		if cs.ClientID == "" {
			return nil, &ConnectionStringError{Key: "ClientId", Kind: ConnectionStringMissingClientID,
				Message: "AuthType=azure.app needs the property ClientId"}
		}
		if cs.TenantID == "" {
			return nil, &ConnectionStringError{Key: "TenantId", Kind: ConnectionStringMissingTenantID,
				Message: "AuthType=azure.app needs the property TenantId"}
		}
		if cs.ClientSecret == "" && cs.ClientCert == "" {
			return nil, &ConnectionStringError{Key: "ClientSecret", Kind: ConnectionStringMissingClientSecret,
				Message: "AuthType=azure.app needs the property ClientSecret or ClientCert"}
		}
	case AuthTypeAAD:
		cs.AuthType = at
		if cs.ClientID != "" && cs.TenantID != "" && cs.ClientSecret == "" && cs.ClientCert == "" {
			return nil, &ConnectionStringError{Key: "ClientSecret", Kind: ConnectionStringMissingClientSecret,
				Message: "AuthType=aad with ClientId and TenantId needs the property ClientSecret or ClientCert"}
		}
	default:
		cs.AuthType = AuthTypeAccessKey
		if cs.AccessKey == "" {
			msg := "the connection string is missing the required property AccessKey"
			if p.has[propAccessKey] {
				msg = "the property AccessKey is empty"
			}
			if p.has[propAuthType] {
				msg += " (AuthType " + p.quote(p.val[propAuthType]) + " is not recognised, so AccessKey mode applies)"
			}
			return nil, &ConnectionStringError{Key: "AccessKey", Kind: ConnectionStringMissingAccessKey,
				Message: msg}
		}
	}
	return cs, nil
}

// parseEndpoint parses an absolute http or https URL with a host. The host
// is lower-cased and a default port dropped, as .NET's Uri does.
func parseEndpoint(s string) (*url.URL, bool) {
	if s == "" {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, false
		}
	}
	u.Host = strings.ToLower(u.Host)
	u.Host = dropDefaultPort(u.Scheme, u.Host)
	return u, true
}

func dropDefaultPort(scheme, host string) string {
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		return host[:strings.LastIndexByte(host, ':')]
	}
	return strings.TrimSuffix(host, ":") // "host:" means no port
}

// validVersion reports whether v matches ^1\.\d+(?:[\w-.]+)?$ (.NET regex
// semantics: \d and \w are Unicode classes).
func validVersion(v string) bool {
	rest, ok := strings.CutPrefix(v, "1.")
	if !ok || rest == "" {
		return false
	}
	for i, r := range rest {
		if i == 0 {
			if !unicode.IsDigit(r) {
				return false
			}
			continue
		}
		if r == '-' || r == '.' || isWordRune(r) {
			continue
		}
		return false
	}
	return true
}

// isWordRune reports whether r is in .NET's \w class.
func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Pc, r))
}

// AudienceBase returns "{scheme}://{host}/" of Endpoint: the base of token
// audiences, without port, path or ClientEndpoint.
func (c *ConnectionString) AudienceBase() string {
	h := c.Endpoint.Hostname()
	if strings.Contains(h, ":") { // IPv6 literal
		h = "[" + h + "]"
	}
	return c.Endpoint.Scheme + "://" + h + "/"
}

// ClientBase returns the base of client URLs: ClientEndpoint when present,
// otherwise Endpoint with Port applied. It always ends in "/".
func (c *ConnectionString) ClientBase() string {
	if c.ClientEndpoint != nil {
		return baseOf(c.ClientEndpoint, 0)
	}
	return baseOf(c.Endpoint, c.Port)
}

// ServerBase returns the base of REST URLs: ServerEndpoint when present,
// otherwise Endpoint with Port applied. It always ends in "/".
func (c *ConnectionString) ServerBase() string {
	if c.ServerEndpoint != nil {
		return baseOf(c.ServerEndpoint, 0)
	}
	return baseOf(c.Endpoint, c.Port)
}

// baseOf returns scheme://host[:port]/path/ of u; port, when not 0, replaces
// u's port. Query and fragment are dropped.
func baseOf(u *url.URL, port int) string {
	host := u.Host
	if port != 0 {
		h := u.Hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		host = dropDefaultPort(u.Scheme, h+":"+strconv.Itoa(port))
	}
	path := u.EscapedPath()
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	return u.Scheme + "://" + host + path
}

// ClientURL returns the URL a negotiate response hands to clients:
// ClientBase()+"client/?hub="+lower-cased hub.
func (c *ConnectionString) ClientURL(hub string) string {
	return c.ClientBase() + "client/?hub=" + strings.ToLower(hub)
}

// ClientAudience returns the "aud" of client access tokens:
// AudienceBase()+"client/?hub="+lower-cased hub.
func (c *ConnectionString) ClientAudience(hub string) string {
	return c.AudienceBase() + "client/?hub=" + strings.ToLower(hub)
}

// UsesEntraID reports whether the connection string authenticates with
// Microsoft Entra ID rather than an AccessKey.
func (c *ConnectionString) UsesEntraID() bool { return c.AuthType != AuthTypeAccessKey }

// HasVersion reports whether the connection string has a Version property.
// Old SDKs required it; portal strings end in "Version=1.0;".
func (c *ConnectionString) HasVersion() bool { return c.Version != "" }

const redactedMark = "***"

// String returns the connection string with AccessKey and ClientSecret
// replaced by "***" and passwords in URLs redactedMark. Parsing the result
// gives the same settings, with the redactedMark values.
func (c *ConnectionString) String() string {
	if c == nil {
		return "<nil>"
	}
	var b strings.Builder
	add := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte(';')
	}
	if c.Endpoint != nil {
		add("Endpoint", c.Endpoint.Redacted())
	}
	if c.Port != 0 {
		add("Port", strconv.Itoa(c.Port))
	}
	if c.ClientEndpoint != nil {
		add("ClientEndpoint", c.ClientEndpoint.Redacted())
	}
	if c.ServerEndpoint != nil {
		add("ServerEndpoint", c.ServerEndpoint.Redacted())
	}
	if c.AccessKey != "" {
		add("AccessKey", redactedMark)
	}
	if c.Version != "" {
		add("Version", c.Version)
	}
	if c.AuthType != "" {
		add("AuthType", string(c.AuthType))
	}
	if c.ClientID != "" {
		add("ClientId", c.ClientID)
	}
	if c.TenantID != "" {
		add("TenantId", c.TenantID)
	}
	if c.ClientSecret != "" {
		add("ClientSecret", redactedMark)
	}
	if c.ClientCert != "" {
		add("ClientCert", c.ClientCert)
	}
	return b.String()
}

// LogValue implements [slog.LogValuer]: the settings as a group, with
// AccessKey and ClientSecret redactedMark.
func (c *ConnectionString) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	attrs := make([]slog.Attr, 0, 10)
	if c.Endpoint != nil {
		attrs = append(attrs, slog.String("endpoint", c.Endpoint.Redacted()))
	}
	if c.Port != 0 {
		attrs = append(attrs, slog.Int("port", c.Port))
	}
	if c.ClientEndpoint != nil {
		attrs = append(attrs, slog.String("clientEndpoint", c.ClientEndpoint.Redacted()))
	}
	if c.ServerEndpoint != nil {
		attrs = append(attrs, slog.String("serverEndpoint", c.ServerEndpoint.Redacted()))
	}
	authType := string(c.AuthType)
	if authType == "" {
		authType = "accesskey"
	}
	attrs = append(attrs, slog.String("authType", authType))
	if c.AccessKey != "" {
		attrs = append(attrs, slog.String("accessKey", redactedMark))
	}
	if c.Version != "" {
		attrs = append(attrs, slog.String("version", c.Version))
	}
	if c.ClientID != "" {
		attrs = append(attrs, slog.String("clientId", c.ClientID))
	}
	if c.TenantID != "" {
		attrs = append(attrs, slog.String("tenantId", c.TenantID))
	}
	if c.ClientSecret != "" {
		attrs = append(attrs, slog.String("clientSecret", redactedMark))
	}
	if c.ClientCert != "" {
		attrs = append(attrs, slog.String("clientCert", c.ClientCert))
	}
	return slog.GroupValue(attrs...)
}
