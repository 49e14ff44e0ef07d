package doctor

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// hostJSON is the part of host.json the doctor reads. encoding/json matches
// keys case-insensitively, as the Functions host's configuration binder does.
type hostJSON struct {
	Version    *string `json:"version"`
	Extensions struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
	CustomHandler *struct {
		Description struct {
			DefaultExecutablePath string `json:"defaultExecutablePath"`
			WorkingDirectory      string `json:"workingDirectory"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		EnableProxyingHTTPRequest   bool `json:"enableProxyingHttpRequest"`
	} `json:"customHandler"`
	HTTPWorker json.RawMessage `json:"httpWorker"`
}

// functionJSON is a function's function.json.
type functionJSON struct {
	Disabled bool      `json:"disabled"`
	Bindings []binding `json:"bindings"`
}

type binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	AuthLevel *string  `json:"authLevel"`
	Methods   []string `json:"methods"`
	Route     *string  `json:"route"`
}

// handlerFunction is what the handler serves for one function.
type handlerFunction struct {
	name      string // folder name = function name = JSON-mode path
	route     string // route under the prefix
	required  []string
	anonymous bool // negotiate is called by browsers without function keys
}

// handlerPrefix is the route prefix the handler's routes carry (/api/...).
const handlerPrefix = server.RoutePrefix

// Environment variable that overrides host.json's defaultExecutablePath.
const envExePath = "AzureFunctionsJobHost__customHandler__description__defaultExecutablePath"

// layout is what the app-layout checks learnt, for later checks.
type layout struct {
	prefix     string // effective routePrefix
	forwarding bool
	// negotiatePath is the path the host serves negotiate at ("" when there
	// is no negotiate function).
	negotiatePath string
	routeProblem  string // the negotiate route diagnosis, "" when fine
}

// parseHostJSON decodes host.json.
func parseHostJSON(b []byte) (*hostJSON, error) {
	var h hostJSON
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// parseFunctionJSON decodes a function.json.
func parseFunctionJSON(b []byte) (*functionJSON, error) {
	var f functionJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

func (r *runner) checkApp() {
	lay := &layout{prefix: handlerPrefix, forwarding: true}
	r.layout = lay
	exe := r.checkHostJSON(lay)
	r.checkFunctions(lay)
	r.checkExecutable(exe)
}

// checkHostJSON checks host.json and returns the executable path it names.
func (r *runner) checkHostJSON(lay *layout) string {
	const check = "host.json"
	path := filepath.Join(r.opts.Dir, "host.json")
	override := r.getenv(envExePath)
	b, err := os.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("%s cannot be read: %v", path, errors.Unwrap(err))
		if errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("there is no host.json in %s: this is not the root of the Functions app", r.opts.Dir)
		}
		r.add(finding(check, Fail, apperr.CodeConfigHostJSON, msg, "Run the doctor in the app root (--dir), next to host.json and the function folders.", nil))
		return override
	}
	h, err := parseHostJSON(b)
	if err != nil {
		r.add(finding(check, Fail, apperr.CodeConfigHostJSON, fmt.Sprintf("%s is not valid JSON: %v", path, err), "Fix the JSON syntax (the host refuses to start).", nil))
		return override
	}
	ok := true
	bad := func(st Status, code, msg, fix string) {
		ok = false
		r.add(finding(check, st, code, msg, fix, nil))
	}
	if h.Version == nil || *h.Version != "2.0" {
		v := "absent"
		if h.Version != nil {
			v = fmt.Sprintf("%q", *h.Version)
		}
		bad(Fail, apperr.CodeConfigHostJSON, "version is "+v+"; Functions runtime 2 and later require \"version\": \"2.0\"", "Set \"version\": \"2.0\" in host.json.")
	}
	exe := override
	if h.CustomHandler == nil {
		msg := "host.json has no customHandler section, so the host does not start the handler"
		if len(h.HTTPWorker) > 0 {
			msg = "host.json uses the legacy httpWorker section; it still works but will be deprecated"
			bad(Warn, apperr.CodeConfigHostJSON, msg, "Rename httpWorker to customHandler.")
		} else {
			bad(Fail, apperr.CodeConfigHostJSON, msg, "Add \"customHandler\": {\"description\": {\"defaultExecutablePath\": \"handler\"}, \"enableForwardingHttpRequest\": true}.")
		}
	} else {
		ch := h.CustomHandler
		if exe == "" {
			exe = ch.Description.DefaultExecutablePath
		}
		if strings.TrimSpace(ch.Description.DefaultExecutablePath) == "" && override == "" {
			bad(Fail, apperr.CodeConfigHostJSON, "customHandler.description.defaultExecutablePath is empty: the host has nothing to start", "Set \"defaultExecutablePath\": \"handler\" (the file `make publish` builds).")
		}
		lay.forwarding = ch.EnableForwardingHTTPRequest || ch.EnableProxyingHTTPRequest
		if !lay.forwarding {
			bad(Warn, apperr.CodeConfigHostJSON, "customHandler.enableForwardingHttpRequest is not true: every call arrives as the JSON invocation envelope at POST /<function>, so GET negotiate and CORS preflights are not served by the handler", "Set \"enableForwardingHttpRequest\": true in host.json.")
		}
	}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil && strings.Trim(*p, "/") != handlerPrefix {
		lay.prefix = strings.Trim(*p, "/")
		bad(Fail, apperr.CodeRouteNotFound, fmt.Sprintf("extensions.http.routePrefix is %q: the host serves /%s, but the handler's routes are /api/negotiate and /api/broadcast, so forwarded calls get 404", *p, joinPath(lay.prefix, "negotiate")), "Set \"extensions\": {\"http\": {\"routePrefix\": \"api\"}} in host.json.")
	}
	if ok {
		d := map[string]string{"defaultExecutablePath": exe, "routePrefix": lay.prefix}
		if override != "" {
			d["override"] = envExePath
		}
		r.add(finding(check, Pass, "", "version 2.0, custom handler "+strconvQuote(exe)+", forwarding on, routePrefix api", "", d))
	}
	return exe
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// joinPath returns "/prefix/route" (or "/route" without prefix).
func joinPath(prefix, route string) string {
	prefix, route = strings.Trim(prefix, "/"), strings.Trim(route, "/")
	if prefix == "" {
		return "/" + route
	}
	return "/" + prefix + "/" + route
}

// handlerFunctions are the functions the handler serves (server.Functions,
// the table its routes are mapped from), with the methods function.json
// must at least declare: POST (GET for health), and OPTIONS where the
// handler answers CORS preflights itself.
func (r *runner) handlerFunctions() []handlerFunction {
	var out []handlerFunction
	for _, f := range server.Functions() {
		req := []string{f.Methods[0]}
		if slices.Contains(f.Methods, "post") {
			req = []string{"post"}
		}
		if len(r.cfg.CORSAllowedOrigins) > 0 && slices.Contains(f.Methods, "options") {
			req = append(req, "options")
		}
		out = append(out, handlerFunction{name: f.Name, route: f.Route, required: req, anonymous: f.AuthLevel == "anonymous"})
	}
	return out
}

func (r *runner) checkFunctions(lay *layout) {
	entries, err := os.ReadDir(r.opts.Dir)
	if err != nil {
		r.add(finding("functions", Skip, "", fmt.Sprintf("cannot list %s: %v", r.opts.Dir, errors.Unwrap(err)), "", nil))
		return
	}
	found := map[string]string{} // lower-cased function name -> folder
	var folders []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(filepath.Join(r.opts.Dir, e.Name(), "function.json")); err == nil {
			folders = append(folders, e.Name())
		}
	}
	sort.Strings(folders)
	known := r.handlerFunctions()
	for _, folder := range folders {
		idx := slices.IndexFunc(known, func(h handlerFunction) bool { return strings.EqualFold(h.name, folder) })
		if idx < 0 && r.signalRTriggerFolder(folder) {
			continue // served by the handler's signalRTrigger path (upstream_trigger.go)
		}
		if idx < 0 {
			r.add(finding("function "+folder, Warn, apperr.CodeRouteNotFound,
				fmt.Sprintf("function %q is not served by the handler: its calls get the handler's 404", folder),
				"Remove the folder, or serve the function in the handler.", nil))
			continue
		}
		found[known[idx].name] = folder
		r.checkFunction(lay, known[idx], folder)
	}
	for _, h := range known {
		if _, ok := found[h.name]; ok {
			continue
		}
		st, msg := Fail, fmt.Sprintf("there is no %s/function.json: the host does not know the function, so %s answers 404 (the classic negotiate 404)", h.name, joinPath(lay.prefix, h.route))
		if h.name != "negotiate" {
			st, msg = Warn, fmt.Sprintf("there is no %s/function.json: %s answers 404 behind the Functions host", h.name, joinPath(lay.prefix, h.route))
		}
		r.add(finding("function "+h.name, st, apperr.CodeRouteNotFound, msg, "Restore "+h.name+"/function.json from the repository.", nil))
	}
}

// signalRTriggerFolder reports whether folder's function.json has a
// signalRTrigger binding: the handler serves any such function with its hub
// (README, "Two-way hubs"), so it is not an unknown function.
func (r *runner) signalRTriggerFolder(folder string) bool {
	b, err := os.ReadFile(filepath.Join(r.opts.Dir, folder, "function.json"))
	if err != nil {
		return false
	}
	fj, err := parseFunctionJSON(b)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(fj.Bindings, func(b binding) bool { return strings.EqualFold(b.Type, "signalRTrigger") })
}

func (r *runner) checkFunction(lay *layout, h handlerFunction, folder string) {
	check := "function " + h.name
	path := filepath.Join(r.opts.Dir, folder, "function.json")
	b, err := os.ReadFile(path)
	if err != nil {
		r.add(finding(check, Fail, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s cannot be read: %v", path, errors.Unwrap(err)), "", nil))
		return
	}
	fj, err := parseFunctionJSON(b)
	if err != nil {
		r.add(finding(check, Fail, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s is not valid JSON: %v", path, err), "Fix the JSON syntax.", nil))
		return
	}
	ok := true
	bad := func(st Status, code, msg, fix string) {
		ok = false
		r.add(finding(check, st, code, msg, fix, map[string]string{"file": path}))
	}
	if fj.Disabled {
		bad(Warn, apperr.CodeRouteNotFound, folder+"/function.json has \"disabled\": true: the host answers 404", "Remove \"disabled\".")
	}
	var triggers, outs, extras []binding
	for _, b := range fj.Bindings {
		switch {
		case strings.EqualFold(b.Type, "httpTrigger") && strings.EqualFold(b.Direction, "in"):
			triggers = append(triggers, b)
		case strings.EqualFold(b.Type, "http") && strings.EqualFold(b.Direction, "out"):
			outs = append(outs, b)
		default:
			extras = append(extras, b)
		}
	}
	if len(triggers) != 1 {
		bad(Fail, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s/function.json has %d httpTrigger input bindings; it needs exactly one", folder, len(triggers)), "Keep one {\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": \"req\"} binding.")
	}
	if len(outs) != 1 {
		bad(Fail, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s/function.json has %d http output bindings; it needs exactly one, or the caller gets no response", folder, len(outs)), "Keep one {\"type\": \"http\", \"direction\": \"out\", \"name\": \"res\"} binding.")
	}
	if len(extras) > 0 {
		var names []string
		for _, e := range extras {
			names = append(names, fmt.Sprintf("%s %q (%s)", e.Type, e.Name, e.Direction))
		}
		bad(Fail, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s/function.json has extra bindings: %s. Any binding besides one httpTrigger and one http output silently turns request forwarding off for this function: the host then sends the JSON envelope to POST /%s, and the handler does the SignalR work itself anyway", folder, strings.Join(names, ", "), folder), "Remove the extra bindings; the handler needs no SignalR bindings or extension bundle.")
	}
	if folder != h.name && !lay.forwarding {
		bad(Fail, apperr.CodeRouteNotFound, fmt.Sprintf("folder %q: with forwarding off the host posts the envelope to /%s, but the handler serves /%s (case-sensitive)", folder, folder, h.name), "Rename the folder to "+h.name+".")
	}
	if len(triggers) == 1 {
		t := triggers[0]
		route := folder
		if t.Route != nil && strings.TrimSpace(*t.Route) != "" {
			route = strings.TrimSpace(*t.Route)
		}
		hostPath := joinPath(lay.prefix, route)
		want := joinPath(handlerPrefix, h.route)
		if h.name == "negotiate" {
			lay.negotiatePath = hostPath
		}
		// The host and the handler both match routes ignoring case.
		if !strings.EqualFold(hostPath, want) {
			msg := fmt.Sprintf("%s/function.json route %q (routePrefix %q) makes the host serve %s and forward that path, but the handler serves %s: every forwarded call gets 404", folder, route, lay.prefix, hostPath, want)
			if h.name == "negotiate" {
				lay.routeProblem = msg
			}
			bad(Fail, apperr.CodeRouteNotFound, msg, fmt.Sprintf("Set \"route\": %q in %s/function.json (or remove route) and keep routePrefix \"api\"; clients get the base URL ending in /api.", h.route, folder))
		}
		if len(t.Methods) > 0 {
			var missing []string
			for _, m := range h.required {
				if !slices.ContainsFunc(t.Methods, func(x string) bool { return strings.EqualFold(x, m) }) {
					missing = append(missing, m)
				}
			}
			if len(missing) > 0 {
				why := ""
				if slices.Contains(missing, "options") {
					why = "; the handler answers CORS itself (CORS_ALLOWED_ORIGINS is set), so the browser's OPTIONS preflight must reach it"
				}
				bad(Fail, apperr.CodeMethodNotAllowed, fmt.Sprintf("%s/function.json methods %v lack %s: the host refuses those requests before the handler sees them%s", folder, t.Methods, strings.Join(missing, ", "), why), fmt.Sprintf("Add %s to \"methods\" (or remove methods to allow all).", quoteList(missing)))
			}
		}
		level := "function"
		if t.AuthLevel != nil {
			level = strings.ToLower(*t.AuthLevel)
		}
		switch {
		case h.anonymous && level != "anonymous" && h.name != "negotiate":
			bad(Warn, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s has authLevel %q: callers (monitors, load balancers) must send a function key", folder, level), "Use \"authLevel\": \"anonymous\".")
		case h.anonymous && level != "anonymous":
			bad(Warn, apperr.CodeNegotiateUnauthenticated, fmt.Sprintf("%s has authLevel %q: browsers must send a function key (?code=) to negotiate, which exposes the key; in Azure the host answers 401 without it", folder, level), "Use \"authLevel\": \"anonymous\" and let the handler authenticate callers (ALLOW_ANONYMOUS, AUTH_*).")
		case !h.anonymous && level == "anonymous":
			bad(Fail, apperr.CodeConfigFunctionJSON, fmt.Sprintf("%s has authLevel \"anonymous\": anyone who knows the URL can broadcast to every client", folder), "Use \"authLevel\": \"function\" and call broadcast with the function key.")
		}
	}
	if ok {
		r.add(finding(check, Pass, "", fmt.Sprintf("%s/function.json: httpTrigger + http output at %s", folder, joinPath(lay.prefix, h.route)), "", map[string]string{"file": path}))
	}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " and ")
}

// binaryKind describes an executable file.
type binaryKind struct {
	format  string // ELF, Mach-O, PE, script, unknown
	goos    string
	goarch  string
	dynamic bool // ELF with an interpreter (cgo, not static)
}

func (k binaryKind) platform() string { return k.goos + "/" + k.goarch }

// identify reads the header of the executable at path.
func identify(path string) (binaryKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return binaryKind{}, err
	}
	defer f.Close()
	return identifyFrom(f), nil
}

// identifyFrom tells the executable format, OS and CPU of the file read
// through ra. A header the standard parsers choke on is "unknown".
func identifyFrom(ra io.ReaderAt) (k binaryKind) {
	defer func() {
		if recover() != nil {
			k = binaryKind{format: "unknown"}
		}
	}()
	head := make([]byte, 4)
	if _, err := ra.ReadAt(head, 0); err != nil {
		return binaryKind{format: "unknown"}
	}
	f := ra
	switch {
	case string(head) == "\x7fELF":
		ef, err := elf.NewFile(f)
		if err != nil {
			return binaryKind{format: "ELF", goos: "?", goarch: "?"}
		}
		k := binaryKind{format: "ELF", goos: "linux", goarch: elfArch(ef.Machine, ef.Class)}
		switch ef.OSABI {
		case elf.ELFOSABI_NONE, elf.ELFOSABI_LINUX:
		case elf.ELFOSABI_FREEBSD:
			k.goos = "freebsd"
		case elf.ELFOSABI_NETBSD:
			k.goos = "netbsd"
		case elf.ELFOSABI_OPENBSD:
			k.goos = "openbsd"
		default:
			k.goos = strings.ToLower(strings.TrimPrefix(ef.OSABI.String(), "ELFOSABI_"))
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				k.dynamic = true
			}
		}
		return k
	case string(head[:2]) == "MZ":
		pf, err := pe.NewFile(f)
		if err != nil {
			return binaryKind{format: "PE", goos: "windows", goarch: "?"}
		}
		arch := fmt.Sprintf("machine 0x%x", pf.Machine)
		switch pf.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			arch = "amd64"
		case pe.IMAGE_FILE_MACHINE_ARM64:
			arch = "arm64"
		case pe.IMAGE_FILE_MACHINE_I386:
			arch = "386"
		}
		return binaryKind{format: "PE", goos: "windows", goarch: arch}
	case string(head[:2]) == "#!":
		return binaryKind{format: "script", goos: "any", goarch: "any"}
	}
	if mf, err := macho.NewFile(f); err == nil {
		arch := mf.Cpu.String()
		switch mf.Cpu {
		case macho.CpuAmd64:
			arch = "amd64"
		case macho.CpuArm64:
			arch = "arm64"
		}
		return binaryKind{format: "Mach-O", goos: "darwin", goarch: arch}
	}
	if _, err := macho.NewFatFile(f); err == nil {
		return binaryKind{format: "Mach-O", goos: "darwin", goarch: "universal"}
	}
	return binaryKind{format: "unknown"}
}

func elfArch(m elf.Machine, c elf.Class) string {
	switch m {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	}
	return strings.ToLower(strings.TrimPrefix(m.String(), "EM_"))
}

func (r *runner) checkExecutable(exe string) {
	const check = "executable"
	if strings.TrimSpace(exe) == "" {
		r.add(finding(check, Skip, "", "host.json names no executable", "", nil))
		return
	}
	path := exe
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.opts.Dir, exe)
	}
	d := map[string]string{"path": path}
	publishFix := "Run `make publish` (GOOS=linux GOARCH=amd64 CGO_ENABLED=0) before deploying."
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add(finding(check, Fail, apperr.CodeConfigExecutable, fmt.Sprintf("host.json names %q but %s does not exist: the host then runs %q as a command from PATH and fails to start the handler", exe, path, exe), "Build it: `make handler` for `func start`, `make publish` for Azure.", d))
		return
	case err != nil:
		r.add(finding(check, Fail, apperr.CodeConfigExecutable, fmt.Sprintf("%s cannot be read: %v", path, errors.Unwrap(err)), "", d))
		return
	case fi.IsDir():
		r.add(finding(check, Fail, apperr.CodeConfigExecutable, path+" is a directory, not the handler executable", "Build the handler with `make handler`.", d))
		return
	}
	d["mode"] = fi.Mode().Perm().String()
	if fi.Mode().Perm()&0o111 == 0 {
		r.add(finding(check, Fail, apperr.CodeConfigExecutable, fmt.Sprintf("%s has no run bit (mode %s): the host cannot start it (\"permission denied\", a 502 in Azure)", path, fi.Mode().Perm()), fmt.Sprintf("chmod +x %s; deploy with `func azure functionapp publish`, which keeps the bit (zip deploys from other tools lose it).", exe), d))
		return
	}
	k, err := identify(path)
	if err != nil {
		r.add(finding(check, Fail, apperr.CodeConfigExecutable, fmt.Sprintf("%s cannot be read: %v", path, err), "", d))
		return
	}
	d["format"] = k.format
	if k.goos != "" {
		d["platform"] = k.platform()
	}
	if r.opts.Publish {
		switch {
		case k.format == "ELF" && k.platform() == "linux/amd64":
			if k.dynamic {
				r.add(finding(check, Warn, apperr.CodeConfigExecutable, path+" is linux/amd64 but dynamically linked (cgo): it may not start on the Functions image", publishFix, d))
				return
			}
		case k.format == "script":
			r.add(finding(check, Warn, apperr.CodeConfigExecutable, path+" is a script, not the Go handler; it runs only if its interpreter exists on the Functions image", publishFix, d))
			return
		case k.format == "unknown":
			r.add(finding(check, Fail, apperr.CodeConfigExecutable, path+" is not an executable the Linux Functions host can run (no ELF header)", publishFix, d))
			return
		default:
			r.add(finding(check, Fail, apperr.CodeConfigExecutable, fmt.Sprintf("%s is a %s %s executable; Azure Functions on Linux needs linux/amd64 (exec format error, a 502 in Azure)", path, k.platform(), k.format), publishFix, d))
			return
		}
		r.add(finding(check, Pass, "", path+" is a static linux/amd64 ELF executable with its run bit", "", d))
		return
	}
	local := runtime.GOOS + "/" + runtime.GOARCH
	if k.format != "script" && k.format != "unknown" && k.platform() != local {
		r.add(finding(check, Warn, apperr.CodeConfigExecutable, fmt.Sprintf("%s is built for %s, this machine is %s: fine to deploy, but `func start` here cannot run it", path, k.platform(), local), "Run `make handler` before `func start`, `make publish` before deploying.", d))
		return
	}
	r.add(finding(check, Pass, "", fmt.Sprintf("%s exists and has its run bit (%s %s)", path, k.format, d["platform"]), "", d))
}
