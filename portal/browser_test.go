package portal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/civicledger/civicledger/portal"
)

// wcagTags are the axe-core rule tags of WCAG 2.2 A and AA.
var wcagTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// browser is a headless Chromium for the browser tests, or a skip when
// none is installed (`make deps` installs Debian's chromium).
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("chromium is not installed: the browser tests need it (make deps installs Debian's chromium)")
	}
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts, chromedp.ExecPath(path), chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root
	}
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab opens a new tab of the browser, closed at the end of the test.
func tab(t *testing.T, b context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	t.Cleanup(cancel)
	// Open the tab now: a tab lives as long as the context of its first
	// action, and later actions run under shorter-lived contexts.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// shots is where screenshots go: $PORTAL_SCREENSHOTS, or a directory of
// the temporary directory made at the first screenshot and kept after the
// test (its path is logged).
func shots() string {
	if d := os.Getenv("PORTAL_SCREENSHOTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("portal-screenshots-%d", os.Getpid()))
}

// screenshot saves the tab's whole page as name.png and logs its path.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// boxShot saves the page's in-browser verification box as name.png.
func boxShot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("check-box")))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// checkResult is what the page shows once the verifier has answered.
type checkResult struct {
	Outcome string `json:"outcome"`
	Text    string `json:"text"`
	MS      string `json:"ms"`
	LoadMS  string `json:"loadms"`
	WasmMS  string `json:"wasmms"`
}

// verifyIn clicks the page's Verify button and waits for the verdict.
func verifyIn(t *testing.T, ctx context.Context, pageURL string) checkResult {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err := chromedp.Do(cctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.ID("check-button")),
		chromedp.Click(chromedp.ID("check-button")),
	)
	if err != nil {
		t.Fatalf("%s: %v", pageURL, err)
	}
	res, err := chromedp.Run(cctx, chromedp.Poll[checkResult](`(() => {
		const o = document.getElementById("check-result");
		return o.dataset.outcome ? {outcome: o.dataset.outcome, text: o.innerText, ms: o.dataset.ms || "", loadms: o.dataset.loadms || "", wasmms: document.getElementById("check-box").dataset.wasmms || ""} : null;
	})()`, chromedp.WithPollingTimeout(80*time.Second)))
	if err != nil {
		t.Fatalf("%s: no verdict: %v", pageURL, err)
	}
	return res
}

// tamperer is a portal in front of the real one that alters what the
// in-browser verifier is given: mode "" passes everything, "value" changes
// the record's value in a bundle, "byte" flips one byte of a bundle, and
// "genesis" serves another genesis file.
type tamperer struct{ mode atomic.Value }

func (tp *tamperer) handler(t *testing.T, target string) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Del("Accept-Encoding") // read the bodies uncompressed
		r.Header.Del("If-None-Match")
	}
	rp.ModifyResponse = func(res *http.Response) error {
		mode, _ := tp.mode.Load().(string)
		path := res.Request.URL.Path
		touch := (mode == "genesis" && path == "/genesis.json") || ((mode == "value" || mode == "byte") && strings.HasPrefix(path, "/bundle/"))
		if !touch || res.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		_ = res.Body.Close()
		switch mode {
		case "genesis":
			body = append(bytes.TrimRight(body, "\n"), ' ', '\n')
		case "byte":
			// Flip a bit of the record's hex in the proof (or of the
			// middle of the document): a one-byte change.
			i := bytes.Index(body, []byte(`"app_hash": "`))
			if i < 0 {
				i = len(body) / 2
			} else {
				i += len(`"app_hash": "`) + 3
			}
			body[i] ^= 1
		case "value":
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				return err
			}
			resp := doc["abci_query"].(map[string]any)["response"].(map[string]any)
			raw, err := base64.StdEncoding.DecodeString(resp["value"].(string))
			if err != nil {
				return err
			}
			raw = bytes.Replace(raw, []byte(`"Clean Energy Fund"`), []byte(`"Clean Energy Funds"`), 1)
			resp["value"] = base64.StdEncoding.EncodeToString(raw)
			if body, err = json.Marshal(doc); err != nil {
				return err
			}
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Set("Content-Length", fmt.Sprint(len(body)))
		res.Header.Del("Content-Encoding")
		res.Header.Del("ETag")
		return nil
	}
	return rp
}

// tamperingNode is a node's RPC in front of the real one that changes the
// value of grant G-T-001 in every proved answer (abci_query with
// prove=true), leaving the proof as it is.
func tamperingNode(t *testing.T, rpc string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, rpc+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if bytes.Contains(body, []byte(`"abci_query"`)) && bytes.Contains(body, []byte(`"prove":true`)) && bytes.Contains(body, []byte(`/store/grants/key`)) {
			var doc map[string]any
			if json.Unmarshal(out, &doc) == nil {
				if result, ok := doc["result"].(map[string]any); ok {
					resp, _ := result["response"].(map[string]any)
					if v, ok := resp["value"].(string); ok {
						raw, _ := base64.StdEncoding.DecodeString(v)
						raw = bytes.Replace(raw, []byte("Clean Energy Fund"), []byte("Clean Energy Fumd"), 1)
						resp["value"] = base64.StdEncoding.EncodeToString(raw)
						out, _ = json.Marshal(doc)
					}
				}
			}
		}
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(out)
	})
}

// browserTests drive the portal's pages in headless Chromium: in-browser
// verification (and its failure against a tampering portal), pages with
// JavaScript off, accessibility (axe-core, WCAG 2.2 A/AA), 320 px reflow
// and keyboard focus.
func browserTests(t *testing.T, ctx context.Context, f *fixture) {
	b := browser(t, ctx)
	if err := <-f.wasmBuilt; err != nil {
		t.Fatalf("build the in-browser verifier: %v", err)
	}
	f.wasmBuilt <- nil // for the fixture's cleanup
	dir := shots()
	base := f.srv.URL
	grantPage := base + "/grant/G-T-001"
	pages := map[string]string{
		"grant": grantPage, "licence": base + "/licence/L-T-001", "payment": base + "/payment/P-T-001",
		"absent": base + "/grant/G-NONE-404", "tx": base + "/tx/" + f.award.Hash,
		"home": base + "/", "search": base + "/search?q=Clean", "agency": base + "/agency/agency-1", "agencies": base + "/agencies",
		"proposals": base + "/proposals", "proposal": base + "/proposal/1", "verify": base + "/verify",
	}

	t.Run("verify in the browser", func(t *testing.T) {
		ctx := tab(t, b)
		for _, c := range []struct {
			name, url, outcome string
			wants              []string
		}{
			{"grant", grantPage, "VERIFIED", []string{"agency-1", "agency-2", "Signed at", " UTC"}},
			{"payment", base + "/payment/P-T-001", "VERIFIED", []string{"agency-1"}},
			{"licence", base + "/licence/L-T-001", "VERIFIED", []string{"agency-2"}},
			{"absent", base + "/grant/G-NONE-404", "VERIFIED ABSENT", []string{"no such record"}},
			{"tx", base + "/tx/" + f.award.Hash, "VERIFIED", []string{fmt.Sprint(f.award.Height)}},
			{"grant at a height", grantPage + "?height=" + fmt.Sprint(f.award.Height), "VERIFIED", []string{fmt.Sprint(f.award.Height)}},
		} {
			res := verifyIn(t, ctx, c.url)
			if res.Outcome != c.outcome {
				screenshot(t, ctx, dir, "verify-"+strings.ReplaceAll(c.name, " ", "-"))
				t.Errorf("%s: %q, want %q\n%s", c.name, res.Outcome, c.outcome, res.Text)
				continue
			}
			for _, w := range append(c.wants, "same as this website states") {
				if !strings.Contains(res.Text, w) {
					t.Errorf("%s: the verdict lacks %q:\n%s", c.name, w, res.Text)
				}
			}
			t.Logf("%s: %s; loading the verifier %s ms, with fetching the bundle and the genesis file %s ms; verifying %s ms", c.name, res.Outcome, res.WasmMS, res.LoadMS, res.MS)
		}
		if os.Getenv("PORTAL_SCREENSHOTS") != "" {
			verifyIn(t, ctx, grantPage)
			_ = chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#check-result summary")))
			screenshot(t, ctx, dir, "grant-verified-1280")
			boxShot(t, ctx, dir, "grant-check-1280")
			_ = chromedp.Do(ctx, chromedp.EmulateViewport(320, 800))
			screenshot(t, ctx, dir, "grant-verified-320")
			boxShot(t, ctx, dir, "grant-check-320")
			_ = chromedp.Do(ctx, chromedp.EmulateReset())
		}
	})

	t.Run("a tampering portal gives FAILED", func(t *testing.T) {
		tp := &tamperer{}
		proxy := httptest.NewServer(tp.handler(t, base))
		t.Cleanup(proxy.Close)
		ctx := tab(t, b)
		for _, c := range []struct{ mode, page, reason string }{
			{"value", "/grant/G-T-001", "store proof"},
			{"byte", "/grant/G-T-001", ""},
			{"byte", "/tx/" + f.award.Hash, ""},
			{"genesis", "/payment/P-T-001", "genesis"},
		} {
			tp.mode.Store(c.mode)
			res := verifyIn(t, ctx, proxy.URL+c.page)
			if res.Outcome != "FAILED" || !strings.Contains(res.Text, c.reason) {
				screenshot(t, ctx, dir, "tampered-"+c.mode)
				t.Errorf("%s tampered (%s): %q, want FAILED (%s)\n%s", c.mode, c.page, res.Outcome, c.reason, res.Text)
			}
			_, reason, _ := strings.Cut(res.Text, "Reason")
			reason, _, _ = strings.Cut(reason, "\n\n")
			t.Logf("%s tampered (%s): %s, %s", c.mode, c.page, res.Outcome, strings.ReplaceAll(reason, "\n", " "))
			if strings.Contains(res.Text, "VERIFIED") {
				t.Errorf("%s tampered: the page says VERIFIED:\n%s", c.mode, res.Text)
			}
		}
		// A portal that cannot give the bundle: FAILED too, never VERIFIED.
		tp.mode.Store("")
		res := verifyIn(t, ctx, base+"/grant/G-T-001")
		if res.Outcome != "VERIFIED" {
			t.Errorf("untampered: %q\n%s", res.Outcome, res.Text)
		}
	})

	t.Run("a tampering node gives FAILED", func(t *testing.T) {
		// A node that changes a grant in its proved answers; the pages
		// read it unchanged. The portal refuses to make the bundle (the
		// proof does not hold), and the page says FAILED.
		node := httptest.NewServer(tamperingNode(t, f.net.Testnet.Agencies[0].RPC))
		t.Cleanup(node.Close)
		h, err := portal.New(portal.Options{Node: node.URL, Witnesses: []string{f.net.Testnet.Agencies[1].RPC},
			GenesisFile: f.net.Testnet.Genesis, WasmDir: f.wasmDir, StateDir: t.TempDir(), Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		ctx := tab(t, b)
		res := verifyIn(t, ctx, srv.URL+"/grant/G-T-001")
		t.Logf("tampering node: %s: %s", res.Outcome, strings.ReplaceAll(res.Text, "\n", " "))
		if res.Outcome != "FAILED" || strings.Contains(res.Text, "VERIFIED") || !strings.Contains(res.Text, "do not match the agencies' signatures") {
			screenshot(t, ctx, dir, "tampering-node")
			t.Errorf("tampering node: %q, want FAILED\n%s", res.Outcome, res.Text)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		ctx := tab(t, b)
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		for name, wants := range map[string][]string{
			"grant":   {"Clean Energy Fund", "1,000.00 EUR", "needs JavaScript", "Download the evidence bundle"},
			"payment": {"250.00 EUR", "First instalment"},
			"licence": {"Harbour Ferries plc"},
			"tx":      {"grant/award", f.award.Hash},
			"absent":  {"Not found", "Download the evidence bundle"},
		} {
			if err := chromedp.Do(ctx, chromedp.Navigate(pages[name])); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, w := range wants {
				if !strings.Contains(text, w) {
					screenshot(t, ctx, dir, "nojs-"+name)
					t.Errorf("%s without JavaScript lacks %q", name, w)
				}
			}
			if strings.Contains(text, "Verify in my browser") {
				t.Errorf("%s without JavaScript shows the Verify button", name)
			}
		}
	})

	t.Run("accessibility", func(t *testing.T) {
		axe, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := tab(t, b)
		// axe is injected by the test, not by the page: let it past the CSP.
		if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
			t.Fatal(err)
		}
		tags, _ := json.Marshal(wcagTags)
		audit := func(name string) {
			t.Helper()
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(axe))); err != nil {
				t.Fatalf("%s: inject axe: %v", name, err)
			}
			v, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]any](`axe.run(document, {runOnly: {type: "tag", values: `+string(tags)+`}}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)})))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("%s: axe: %v", name, err)
			}
			if len(v) > 0 {
				screenshot(t, ctx, dir, "axe-"+name)
				t.Errorf("%s: %d WCAG 2.2 A/AA violation(s): %v", name, len(v), v)
			}
		}
		reflow := func(name string) {
			t.Helper()
			_ = chromedp.Do(ctx, chromedp.EmulateViewport(320, 800))
			w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if w > 320 {
				screenshot(t, ctx, dir, "reflow-"+name)
				t.Errorf("%s at 320 px: scrollWidth %d", name, w)
			}
			_ = chromedp.Do(ctx, chromedp.EmulateReset())
		}
		for _, name := range []string{"home", "search", "grant", "licence", "payment", "absent", "tx", "agency", "agencies", "proposals", "proposal", "verify"} {
			if err := chromedp.Do(ctx, chromedp.Navigate(pages[name])); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			audit(name)
			reflow(name)
		}
		// After a verification, with its details open.
		for _, name := range []string{"grant", "absent", "tx"} {
			if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
				t.Fatal(err)
			}
			verifyIn(t, ctx, pages[name])
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#check-result summary"))); err != nil {
				t.Fatal(err)
			}
			audit(name + "-verified")
			reflow(name + "-verified")
		}
	})

	t.Run("keyboard focus", func(t *testing.T) {
		ctx := tab(t, b)
		if err := chromedp.Do(ctx, chromedp.Navigate(grantPage), chromedp.WaitVisible(chromedp.ID("check-button"))); err != nil {
			t.Fatal(err)
		}
		type focused struct {
			Tag, Text, Class, ID string
			Outline              string
			Visible              bool
		}
		const probe = `(() => {
			const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
			return {tag: e.tagName, text: (e.innerText || "").slice(0, 40), class: e.className, id: e.id,
				outline: s.outlineStyle + " " + s.outlineWidth,
				visible: r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth};
		})()`
		var seen []focused
		sawButton := false
		for i := range 80 {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
				t.Fatal(err)
			}
			fc, err := chromedp.Run(ctx, chromedp.Evaluate[focused](probe))
			if err != nil {
				t.Fatal(err)
			}
			if fc.Tag == "BODY" {
				break
			}
			seen = append(seen, fc)
			if i == 0 && !strings.Contains(fc.Class, "skip") {
				t.Errorf("the first Tab focuses %+v, not the skip link", fc)
			}
			if !fc.Visible || strings.HasPrefix(fc.Outline, "none") || strings.HasSuffix(fc.Outline, " 0px") {
				screenshot(t, ctx, dir, fmt.Sprintf("focus-%d", i))
				t.Errorf("Tab %d focuses %+v without a visible focus", i+1, fc)
			}
			sawButton = sawButton || fc.ID == "check-button"
		}
		if !sawButton {
			t.Errorf("Tab never reaches the Verify button (focus order: %+v)", seen)
		}
	})
}
