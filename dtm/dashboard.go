package main

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dtm-labs/logger"
	"github.com/gin-gonic/gin"
)

// adminFiles is DTM's dashboard as `make admin` builds it from the pinned
// DTM's admin/ source into dtm/admin/dist (committed, like generated code).
// The pattern names admin/, not admin/dist, so that a tree without the
// built files still compiles and proxies instead; "all:" keeps files whose
// names start with "_" or ".", which Vite can give a chunk
// (_plugin-vue_export-helper.*.js).
//
//go:embed all:admin
var adminFiles embed.FS

// dtmModule is the module whose version the dashboard was built with.
const dtmModule = "github.com/dtm-labs/dtm"

// dtmVersionFallback is the DTM version go.mod pins, for a binary that
// carries no module build info.
const dtmVersionFallback = "v1.19.0"

// dtmVersion is the DTM version this binary runs: what /api/dtmsvr/version
// should answer. The dashboard compares it with the version it was built
// with (make admin takes it from go.mod too) and shows a red warning when
// they differ; DTM's own Makefile sets it with -ldflags, and a build of ours
// would leave it empty.
func dtmVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path != dtmModule {
				continue
			}
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			if m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return dtmVersionFallback
}

// addDashboard serves DTM's admin UI on DTM's HTTP port under basePath
// (DTM's AdminBasePath; empty: at the root), as DTM's stock entry does with
// a built UI: the index page for / and /admin/* (the UI's own routes), with
// the base path swapped in, and its files under /assets/. The UI calls
// DTM's /api/dtmsvr/* from the browser, always at the root. None of it
// asks for a login: keep DTM's HTTP port private.
//
// Built without the dashboard's files (no dtm/admin/dist/index.html: `make
// admin` was not run, or dist holds only DTM's placeholder), it proxies
// the public admin site instead, which answers a page saying so when it
// cannot be reached.
func addDashboard(app *gin.Engine, basePath string) {
	base := dashboardBase(basePath)
	var router gin.IRoutes = app
	if base != "" {
		router = app.Group(base)
	}
	dist, err := fs.Sub(adminFiles, "admin/dist")
	logger.FatalIfError(err)
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		logger.Warnf("dashboard: no built UI in dtm/admin/dist (make admin): proxying %s", dashboardSite)
		proxyDashboard(router, base)
		return
	}
	assets, err := fs.Sub(dist, "assets")
	logger.FatalIfError(err)

	page := dashboardIndex(index, base)
	serveIndex := func(c *gin.Context) {
		dashboardHeaders(c)
		// A new build renames the assets: always fetch the page that names them.
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	}
	routes := map[string]gin.HandlerFunc{
		"/":            serveIndex,
		"/admin/*name": serveIndex,
		// Asset names carry a hash of their content.
		"/assets/*name": func(c *gin.Context) {
			serveDashboardFile(c, assets, strings.TrimPrefix(c.Param("name"), "/"), "public, max-age=31536000, immutable")
		},
		"/favicon.ico": func(c *gin.Context) {
			serveDashboardFile(c, dist, "favicon.ico", "public, max-age=86400")
		},
	}
	for path, h := range routes {
		router.GET(path, h)
		router.HEAD(path, h)
	}
}

// safeBase is what an AdminBasePath may hold: it is written into the index
// page's HTML and a script string.
var safeBase = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*$`)

// dashboardBase is AdminBasePath as a path prefix: "" or "/x[/y]", with no
// trailing slash (DTM's own entry takes it as written, and a missing
// leading slash there gives the page relative asset paths).
func dashboardBase(p string) string {
	p = strings.TrimRight(strings.TrimSpace(p), "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	logger.FatalfIf(!safeBase.MatchString(p), "AdminBasePath %q: only letters, digits and ._~- between slashes", p)
	return p
}

// dashboardIndex is the built index page with its placeholders filled in
// the way DTM's stock entry fills them: asset paths under the base path,
// and the base path where the build left PUBLIC-PATH-VARIABLE (the favicon
// link and window.basePath, from which the UI's router and its lazily
// loaded chunks take their paths).
func dashboardIndex(page []byte, base string) []byte {
	page = bytes.ReplaceAll(page, []byte(`"assets/`), []byte(`"`+base+`/assets/`))
	return bytes.ReplaceAll(page, []byte("PUBLIC-PATH-VARIABLE"), []byte(base))
}

// dashboardHeaders keep the dashboard out of other sites' frames: its
// buttons (ForceStop, …) act on DTM without a login.
func dashboardHeaders(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Content-Security-Policy", "frame-ancestors 'none'")
	c.Header("Referrer-Policy", "no-referrer")
}

// serveDashboardFile answers the file name of files, with cacheControl;
// anything else (a directory, a path with "..") is not found.
func serveDashboardFile(c *gin.Context, files fs.FS, name, cacheControl string) {
	data, err := fs.ReadFile(files, name)
	if err != nil {
		c.AbortWithStatus(http.StatusNotFound)
		return
	}
	dashboardHeaders(c)
	c.Header("Cache-Control", cacheControl)
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(data))
}

// dashboardSite serves DTM's admin UI to builds without its files.
const dashboardSite = "admin.dtm.pub"

// proxyDashboard serves the admin UI the way DTM's stock entry does without
// a built one: by proxying the public admin site, with the base path taken
// off the request and filled into the index page. Offline it answers a
// page that says where the UI and the data are instead.
func proxyDashboard(router gin.IRoutes, base string) {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: dashboardSite})
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Host = dashboardSite
		r.URL.Path = strings.TrimPrefix(r.URL.Path, base)
		r.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, base)
		// Go's transport then asks for gzip itself and hands the body over
		// decompressed, so that the index page can be rewritten.
		r.Header.Del("Accept-Encoding")
	}
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = dashboardIndex(body, base)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		logger.Warnf("dashboard proxy: %v", err)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, dashboardOffline, dashboardSite)
	}
	handler := gin.WrapH(proxy)
	for _, path := range []string{"/", "/assets/*name", "/admin/*name"} {
		router.GET(path, handler)
	}
}

const dashboardOffline = `<!doctype html><meta charset="utf-8"><title>DTM dashboard</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>DTM dashboard unavailable offline</h1>
<p>This DTM server was built without the dashboard's files (<code>make
admin</code> builds them into dtm/admin/dist), so it proxies them from %s,
which cannot be reached from here.</p>
<p>The data is all here: <a href="/api/dtmsvr/all">/api/dtmsvr/all</a> lists
the transactions, <code>/api/dtmsvr/query?gid=…</code> shows one, and
<a href="/api/metrics">/api/metrics</a> exports Prometheus metrics. The saga
console of this suite (port 8890) shows the register sagas with their
business rows.</p></body>`
