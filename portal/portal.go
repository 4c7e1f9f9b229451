package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds the node reads of one request.
	DefaultTimeout = 10 * time.Second
	// DefaultScanBudget is the most records one search request examines.
	DefaultScanBudget = 2000
	// DefaultPageSize is the number of rows of a list page; MaxPageSize
	// the most a download may ask for.
	DefaultPageSize = 25
	MaxPageSize     = 200
	// MaxPageRows bounds the rows of a list shown as a page (a download
	// may hold MaxPageSize), so that a page stays under 100 KB.
	MaxPageRows = 100
	// MaxQueryBytes bounds a request's query string; longer is refused.
	MaxQueryBytes = 2048
	// DefaultHistoryRows is the number of a record's latest changes
	// shown with what each changed and when.
	DefaultHistoryRows = 50
	// signingWindow is the number of latest blocks over which an agency
	// page shows whether its validator signed.
	signingWindow = 20
)

// ContentSecurityPolicy is sent with every answer: scripts from the portal
// only, never inline (the in-browser verifier: its page script, Go's
// wasm_exec.js, and the compiling of its WebAssembly), no frame, styles,
// images and fetches from the portal only, forms posted to it only.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Options configure the portal.
type Options struct {
	// Node is the RPC address of the node the portal reads (a full node,
	// not a validator, in production).
	Node string
	// Witnesses are RPC addresses of other agencies' nodes, named on the
	// "how to verify" page and asked whether they agree with Node.
	Witnesses []string
	// GenesisFile, if set, is the chain's published genesis file: the
	// verify page shows its SHA-256 and serves it at /genesis.json, and
	// record and transaction pages offer their evidence bundle, made from
	// it as trust root (/bundle/KIND/ID).
	GenesisFile string
	// WasmDir, if set, is the directory of the in-browser verifier
	// (WasmFile and WasmExecFile: `make wasm`, or BuildVerifier): record
	// and transaction pages then offer to verify their bundle in the
	// reader's browser. It is read on first use, so it may be filled
	// after the portal starts; until then the pages say in-browser
	// verification is unavailable.
	WasmDir string
	// StateDir, if set, is where the portal keeps the chain's trust root
	// (made from GenesisFile) for the bundles it makes; empty: a new
	// temporary directory.
	StateDir string
	// Lang selects the catalogue of texts ("" : "en").
	Lang string
	// Timeout bounds the node reads of one request (0: DefaultTimeout).
	Timeout time.Duration
	// ScanBudget bounds the records one search examines (0:
	// DefaultScanBudget).
	ScanBudget int
	// HistoryRows is the number of a record's latest changes its page
	// shows (0: DefaultHistoryRows).
	HistoryRows int
	// Logger receives the details of failed requests (nil: discarded).
	Logger *slog.Logger
}

// ErrNoNode is returned by New when Options name no node.
var ErrNoNode = errors.New("portal: no node address")

// ErrWasmNoGenesis is returned by New when Options give the in-browser
// verifier but no genesis file: the bundles it checks are made from it.
var ErrWasmNoGenesis = errors.New("portal: the in-browser verifier needs the genesis file")

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

//go:embed static/verify.js
var verifyJS []byte

// server is the portal's handler state: read-only after New.
type server struct {
	c          *client.Client
	witnesses  []*client.Client
	opts       Options
	texts      catalogue
	pages      map[string]*template.Template
	genesis    []byte
	genesisSum string
	cssETag    string
	exp        *exporter   // nil without a genesis file
	wasm       *wasmAssets // nil without Options.WasmDir
	pageJS     *asset
}

// New returns the portal's handler reading the node of o.Node.
func New(o Options) (http.Handler, error) {
	if o.Node == "" {
		return nil, ErrNoNode
	}
	if o.WasmDir != "" && o.GenesisFile == "" {
		return nil, ErrWasmNoGenesis
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ScanBudget <= 0 {
		o.ScanBudget = DefaultScanBudget
	}
	if o.HistoryRows <= 0 {
		o.HistoryRows = DefaultHistoryRows
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	texts, err := textsFor(o.Lang)
	if err != nil {
		return nil, err
	}
	c, err := client.New(o.Node)
	if err != nil {
		return nil, err
	}
	s := &server{c: c, opts: o, texts: texts}
	for _, w := range o.Witnesses {
		wc, err := client.New(w)
		if err != nil {
			return nil, fmt.Errorf("witness: %w", err)
		}
		s.witnesses = append(s.witnesses, wc)
	}
	if o.GenesisFile != "" {
		bz, err := os.ReadFile(o.GenesisFile)
		if err != nil {
			return nil, fmt.Errorf("genesis file: %w", err)
		}
		sum := sha256.Sum256(bz)
		s.genesis, s.genesisSum = bz, hex.EncodeToString(sum[:])
		s.exp = &exporter{genesisFile: o.GenesisFile, node: o.Node, witnesses: o.Witnesses, dir: o.StateDir}
		if o.WasmDir != "" {
			s.wasm = &wasmAssets{dir: o.WasmDir}
		}
	}
	s.pageJS = newAsset(verifyJS, "text/javascript; charset=utf-8")
	sum := sha256.Sum256(styleCSS)
	s.cssETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	if s.pages, err = parsePages(texts); err != nil {
		return nil, err
	}
	return s.routes(), nil
}

// parsePages parses each page template with the base layout.
func parsePages(texts catalogue) (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs(texts)).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := n[len("templates/"):]
		if name == "layout.html" || name == "partials.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		pages[name[:len(name)-len(".html")]] = t
	}
	return pages, nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /search", s.search)
	mux.HandleFunc("GET /grant/{id}", s.grant)
	mux.HandleFunc("GET /licence/{id}", s.licence)
	mux.HandleFunc("GET /payment/{id}", s.payment)
	mux.HandleFunc("GET /agency/{id}", s.agency)
	mux.HandleFunc("GET /agencies", s.agencies)
	mux.HandleFunc("GET /tx/{hash}", s.tx)
	mux.HandleFunc("GET /proposals", s.proposals)
	mux.HandleFunc("GET /proposal/{id}", s.proposal)
	mux.HandleFunc("GET /verify", s.verifyPage)
	mux.HandleFunc("GET /genesis.json", s.genesisFile)
	mux.HandleFunc("GET /static/style.css", s.style)
	mux.HandleFunc("GET /bundle/{kind}/{id}", s.bundle)
	mux.HandleFunc("GET /static/verify.js", func(w http.ResponseWriter, r *http.Request) { s.pageJS.serve(w, r, 3600) })
	mux.HandleFunc("GET /static/"+WasmFile, s.wasmFile)
	mux.HandleFunc("GET /static/"+WasmExecFile, s.wasmFile)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
	})
	return s.guard(mux)
}

// guard applies what every answer needs: read-only methods, bounded
// requests, security headers, and a deadline for the node reads.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "interest-cohort=()")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			s.fail(w, r, &pageError{status: http.StatusMethodNotAllowed, key: "err.method"})
			return
		}
		if len(r.URL.RawQuery) > MaxQueryBytes || len(r.URL.Path) > MaxQueryBytes {
			s.fail(w, r, &pageError{status: http.StatusRequestURITooLong, key: "err.toolong"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1024)
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// pageError is an answer other than the page asked for: its status and
// the text (key of the catalogue) that explains it, with an optional
// detail safe to show.
type pageError struct {
	status int
	key    string
	detail string
	err    error
}

func (e *pageError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.key, e.err)
	}
	return fmt.Sprintf("%d %s %s", e.status, e.key, e.detail)
}

func (e *pageError) Unwrap() error { return e.err }

// classify maps an error of a node read to the answer it deserves.
func classify(err error) *pageError {
	var pe *pageError
	var ne *client.NodeError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrInvalidID), errors.Is(err, client.ErrTxNotFound):
		return &pageError{status: http.StatusNotFound, key: "err.notfound", err: err}
	case errors.Is(err, client.ErrHeightUnavailable):
		return &pageError{status: http.StatusNotFound, key: "err.height", err: err}
	case errors.Is(err, client.ErrQueryRefused):
		return &pageError{status: http.StatusBadRequest, key: "err.badrequest", err: err}
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &pageError{status: http.StatusServiceUnavailable, key: "err.unreachable", err: err}
	}
	return &pageError{status: http.StatusBadGateway, key: "err.badgateway", err: err}
}

// fail answers with the error page of err.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	pe := classify(err)
	if pe.status >= 500 {
		s.opts.Logger.Error("portal request failed", "path", r.URL.Path, "status", pe.status, "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	if pe.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	s.renderStatus(w, r, pe.status, "error", &view{
		Title: s.texts.get(pe.key + ".title"),
		Data:  struct{ Message, Detail string }{s.texts.get(pe.key), pe.detail},
	})
}

// view is what every page template receives.
type view struct {
	Title string
	// Check is the page's in-browser verification (nil: none); with it,
	// the layout loads the verifier's scripts.
	Check  *checkView
	Height int64 // the height the page was read at (0: none)
	At     bool  // the page was asked at a height (immutable)
	Path   string
	Lang   string
	Data   any
}

// render writes page name with status 200.
func (s *server) render(w http.ResponseWriter, r *http.Request, name string, v *view) {
	s.renderStatus(w, r, http.StatusOK, name, v)
}

func (s *server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	v.Path, v.Lang = r.URL.Path, s.texts.lang
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.opts.Logger.Error("portal template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// cache sets the caching header of a page: one read at a given height
// never changes; the latest state changes with each block.
func cache(w http.ResponseWriter, immutable bool) {
	if immutable {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=5")
}

// heightParam reads ?height= (0: the latest).
func heightParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("height")
	if v == "" {
		return 0, nil
	}
	h, err := strconv.ParseInt(v, 10, 64)
	if err != nil || h < 1 {
		return 0, &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: "height"}
	}
	return h, nil
}

func (s *server) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("ETag", s.cssETag)
	if r.Header.Get("If-None-Match") == s.cssETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(styleCSS)
}

func (s *server) genesisFile(w http.ResponseWriter, r *http.Request) {
	if s.genesis == nil {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="genesis.json"`)
	cache(w, true)
	_, _ = w.Write(s.genesis)
}

// validID refuses an id no record can have before asking the node.
func validID(id string) error {
	if !ledger.ValidID(id) {
		return &pageError{status: http.StatusNotFound, key: "err.notfound", err: &client.InvalidIDError{ID: id}}
	}
	return nil
}
