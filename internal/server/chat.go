package server

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"os"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// webFS holds the development chat page: index.html (styles inline) and
// chat.js. The SignalR browser bundle is not embedded; see chatBundlePath.
//
//go:embed web/index.html web/chat.js
var webFS embed.FS

// chatBundlePath is where `make deps` (npm ci in e2e/) puts the browser build
// of @microsoft/signalr, relative to the working directory of `make dev`
// (the repository root). It is read at request time so the bundle is never
// committed or compiled in.
const chatBundlePath = "e2e/node_modules/@microsoft/signalr/dist/browser/signalr.min.js"

// chatPage serves the development chat page (DEV_CHAT_PAGE=true), mounted
// with the "/chat" prefix stripped: "/" is the page, "/chat.js" its script
// and "/signalr.min.js" the SignalR browser bundle from npm.
func chatPage() http.Handler { return chatPageFrom(chatBundlePath) }

// chatPageFrom is chatPage with the bundle read from bundlePath.
func chatPageFrom(bundlePath string) http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		switch r.URL.Path {
		case "/signalr.min.js":
			serveBundle(w, r, bundlePath)
		case "/", "/chat.js":
			// The page talks to the handler (same origin) and to the
			// service, whose origin depends on the connection string.
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'")
			files.ServeHTTP(w, r)
		default:
			apperr.Write(w, apperr.New(apperr.CodeRouteNotFound,
				"the chat page has no file "+textutil.Truncate(r.URL.Path, 64),
				"Open /chat/ (the page loads /chat/chat.js and /chat/signalr.min.js itself)."))
		}
	})
}

// serveBundle writes the SignalR browser bundle at path, or a 404 JSON error
// that says how to install it.
func serveBundle(w http.ResponseWriter, r *http.Request, path string) {
	f, err := os.Open(path)
	if err != nil {
		msg := "the SignalR browser bundle cannot be read"
		if errors.Is(err, fs.ErrNotExist) {
			msg = "the SignalR browser bundle is not installed"
		}
		apperr.Write(w, apperr.New(apperr.CodeRouteNotFound, msg+" ("+path+" relative to the handler's working directory)",
			"Run `make deps` (npm ci in e2e/) and start the handler from the repository root, as `make dev` does."))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		apperr.Write(w, apperr.New(apperr.CodeRouteNotFound, "the SignalR browser bundle is not a file ("+path+")",
			"Run `make deps` to reinstall e2e/node_modules."))
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	http.ServeContent(w, r, "signalr.min.js", st.ModTime(), f)
}
