package portal_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
	"github.com/civicledger/civicledger/portal"
)

const (
	docHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	// hostile is a recipient name holding HTML and script: record fields
	// are untrusted input.
	hostile = `Acme <script>alert("x")</script> & <b onmouseover=alert(1)>Co</b>`
)

// fixture is a real two-agency network with records, and a portal over
// agency-1's node.
type fixture struct {
	net     *node.Network
	c       *client.Client
	srv     *httptest.Server
	award   *client.TxResult // the award of G-T-001
	revoked int64            // the height at which G-T-002 was revoked
	// wasmDir holds the in-browser verifier once wasmBuilt reports its
	// build.
	wasmDir   string
	wasmBuilt chan error
}

func start(t *testing.T, ctx context.Context) *fixture {
	t.Helper()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: 2, ExtraOfficers: true, ChainID: "civic-portal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, err := client.New(a[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{net: net, c: c, wasmDir: t.TempDir(), wasmBuilt: make(chan error, 1)}
	// The in-browser verifier builds while the records are written; the
	// portal reads it on first use.
	go func() { f.wasmBuilt <- portal.BuildVerifier(ctx, "", "", f.wasmDir) }()
	t.Cleanup(func() { <-f.wasmBuilt })
	submit := func(i int, p ledger.Payload, officers ...string) *client.TxResult {
		t.Helper()
		ks, err := keystore.Open(net.KeyDir(i), keystore.BackendTest, nil)
		if err != nil {
			t.Fatal(err)
		}
		var keys []ed25519.PrivateKey
		for _, o := range officers {
			k, err := ks.PrivKey(o)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		ci, _ := client.New(a[i].RPC)
		raw, err := ci.BuildTx(ctx, client.Signer{Agency: a[i].ID, Keys: keys}, p, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ci.Submit(ctx, raw, true)
		if err != nil || !res.OK() {
			t.Fatalf("%T: %v %+v", p, err, res)
		}
		if err := c.WaitForHeight(ctx, res.Height); err != nil {
			t.Fatal(err)
		}
		return res
	}
	f.award = submit(0, &ledger.GrantAward{ID: "G-T-001", Recipient: ledger.Party{Name: hostile, Scheme: "GB-COH", ID: "12345678"},
		Programme: "Clean Energy Fund", Purpose: "Solar <img src=x onerror=alert(1)>", Amount: "100000", Currency: "EUR",
		PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-15", DocumentHash: docHash}, "grants")
	submit(0, &ledger.GrantAward{ID: "G-T-002", Recipient: ledger.Party{Name: "Beta Roads Ltd", Scheme: "GB-COH", ID: "87654321"},
		Programme: "Road Safety", Purpose: "Crossings", Amount: "500000", Currency: "EUR",
		PeriodStart: "2026-05-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-05-01", DocumentHash: docHash}, "grants")
	submit(0, &ledger.PaymentRecord{ID: "P-T-001", Payee: ledger.Party{Name: hostile, Scheme: "GB-COH", ID: "12345678"},
		Amount: "25000", Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment", Grant: "G-T-001"}, "finance")
	f.revoked = submit(0, &ledger.GrantRevoke{ID: "G-T-002", Reason: "Withdrawn by the recipient", DocumentHash: docHash}, "grants").Height
	submit(1, &ledger.LicenceIssue{ID: "L-T-001", Holder: ledger.Party{Name: "Harbour Ferries plc", Scheme: "GB-COH", ID: "01234567"},
		LicenceType: "passenger-ferry", Scope: "Harbour crossing", ValidFrom: "2026-03-01", ValidUntil: "2031-02-28",
		DecisionDate: "2026-02-20", ConditionsHash: docHash}, "licensing")
	submit(1, &ledger.PaymentRecord{ID: "P-T-002", Payee: ledger.Party{Name: "Kobe Translation KK", Scheme: "JP-CN", ID: "1234567890123"},
		Amount: "48000", Currency: "JPY", Date: "2026-03-03", Purpose: "Translation"}, "finance")

	params, _, _, err := c.Params(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	params.FourEyesThreshold = 500000
	submit(0, &ledger.GovPropose{Kind: ledger.ProposalParamsChange, Title: "Lower the <i>four-eyes</i> threshold",
		LegalBasis: "Finance Act 2026, s. 12", DocumentHash: docHash, Params: params}, "admin")

	h, err := portal.New(portal.Options{Node: a[0].RPC, Witnesses: []string{a[1].RPC}, GenesisFile: net.Testnet.Genesis, Timeout: 20 * time.Second,
		WasmDir: f.wasmDir, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, base, path string) answer {
	t.Helper()
	res, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, string(body)}
}

func TestPortal(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	f := start(t, ctx)
	base := f.srv.URL

	t.Run("every page renders", func(t *testing.T) {
		bz, err := os.ReadFile(f.net.Testnet.Genesis)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(bz)
		for path, wants := range map[string][]string{
			"/":                   {"G-T-001", "L-T-001", "Totals per agency", "6,000.00 EUR", "250.00 EUR", "48,000 JPY", "What the words mean"},
			"/search":             {"Search the records", `<label for="q">`},
			"/grant/G-T-001":      {"Clean Energy Fund", "1,000.00 EUR", "250.00 EUR", "750.00 EUR", "GB-COH 12345678", docHash, `href="/payment/P-T-001"`, "History", "/tx/" + f.award.Hash, "Block " + fmt.Sprint(f.award.Height)},
			"/grant/G-T-002":      {"Revoked", "Withdrawn by the recipient", "Road Safety"},
			"/licence/L-T-001":    {"Harbour Ferries plc", "passenger-ferry", "2026-03-01 – 2031-02-28", "Issued"},
			"/payment/P-T-001":    {"250.00 EUR", `href="/grant/G-T-001"`, "2026-02-01", "finance"},
			"/payment/P-T-002":    {"48,000 JPY", "Kobe Translation KK"},
			"/agency/agency-1":    {"agency-1", "Validator&#39;s signing record", "Signed ", "1,000.00 EUR", `href="/grant/G-T-001"`, "grants"},
			"/agencies":           {`href="/agency/agency-2"`},
			"/tx/" + f.award.Hash: {"grant/award", f.award.Hash, `href="/grant/G-T-001"`, "Accepted"},
			"/proposals":          {"Governance"},
			"/verify":             {"ledger --node NODE_URL verify grant", hex.EncodeToString(sum[:]), "agrees with this site", f.net.Testnet.Agencies[1].RPC},
			"/genesis.json":       {`"chain_id"`},
			"/static/style.css":   {"font-family"},
			"/grant/G-T-001?height=" + fmt.Sprint(f.award.Height): {"0.00 EUR", "See the latest version"},
		} {
			a := get(t, base, path)
			if a.status != http.StatusOK {
				t.Errorf("GET %s: %d\n%s", path, a.status, a.body)
				continue
			}
			for _, w := range wants {
				if !strings.Contains(a.body, w) {
					t.Errorf("GET %s lacks %q", path, w)
				}
			}
			if got := a.header.Get("Content-Security-Policy"); got != portal.ContentSecurityPolicy {
				t.Errorf("GET %s: CSP %q", path, got)
			}
			if a.header.Get("Set-Cookie") != "" {
				t.Errorf("GET %s sets a cookie", path)
			}
			if len(a.body) > 100<<10 {
				t.Errorf("GET %s: %d bytes, over 100 KB", path, len(a.body))
			}
			if strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
				if !strings.Contains(a.body, `<html lang="en">`) {
					t.Errorf("GET %s: no lang attribute", path)
				}
				// Scripts only from the portal's own files, never inline.
				for _, m := range regexp.MustCompile(`(?is)<script[^>]*>.*?</script>`).FindAllString(a.body, -1) {
					if !regexp.MustCompile(`^<script src="/static/[a-z_]+\.js" defer></script>$`).MatchString(m) {
						t.Errorf("GET %s holds a script element other than the portal's own: %s", path, m)
					}
				}
				if n := strings.Count(strings.ToLower(a.body), "<script"); n != strings.Count(a.body, `<script src="/static/`) {
					t.Errorf("GET %s holds an inline script", path)
				}
			}
		}
	})

	t.Run("record fields are escaped", func(t *testing.T) {
		for _, path := range []string{"/grant/G-T-001", "/payment/P-T-001", "/search?q=acme", "/"} {
			a := get(t, base, path)
			if strings.Contains(a.body, "<script>") || strings.Contains(a.body, "<b onmouseover") || strings.Contains(a.body, "<img src=x") {
				t.Errorf("GET %s shows the hostile name unescaped", path)
			}
			if path != "/" && !strings.Contains(a.body, "Acme &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b onmouseover=alert(1)&gt;Co&lt;/b&gt;") {
				t.Errorf("GET %s lacks the escaped hostile name", path)
			}
		}
	})

	t.Run("search finds by each criterion", func(t *testing.T) {
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"kind=grant&q=G-T-002", []string{"G-T-002"}},
			{"kind=grant&q=beta+roads", []string{"G-T-002"}},
			{"kind=grant&q=12345678", []string{"G-T-001"}},
			{"kind=grant&q=GB-COH+87654321", []string{"G-T-002"}},
			{"kind=payment&q=acme", []string{"P-T-001"}},
			{"kind=licence&q=harbour", []string{"L-T-001"}},
			{"kind=grant&programme=clean+energy", []string{"G-T-001"}},
			{"kind=licence&programme=ferry", []string{"L-T-001"}},
			{"kind=grant&agency=agency-1", []string{"G-T-001", "G-T-002"}},
			{"kind=payment&agency=agency-2", []string{"P-T-002"}},
			{"kind=grant&agency=agency-2", nil},
			{"kind=grant&status=revoked", []string{"G-T-002"}},
			{"kind=grant&status=awarded&agency=agency-1", []string{"G-T-001"}},
			{"kind=grant&from=2026-04-01", []string{"G-T-002"}},
			{"kind=grant&to=2026-01-31", []string{"G-T-001"}},
			{"kind=payment&from=2026-02-01&to=2026-02-28", []string{"P-T-001"}},
			{"grant=G-T-001", []string{"P-T-001"}},
			{"kind=payment&grant=G-T-001&status=reversed", nil},
			{"kind=payment&grant=G-T-001&agency=agency-2", nil},
			{"kind=payment&grant=G-T-001&agency=agency-1", []string{"P-T-001"}},
		} {
			a := get(t, base, "/search?format=json&"+c.query)
			if a.status != http.StatusOK {
				t.Errorf("%s: %d %s", c.query, a.status, a.body)
				continue
			}
			if got := ids(t, a.body); !slices.Equal(got, c.want) {
				t.Errorf("%s: found %v, want %v", c.query, got, c.want)
			}
			h := get(t, base, "/search?"+c.query)
			for _, id := range c.want {
				if !strings.Contains(h.body, `href="/`+strings.ToLower(kindOf(id))+`/`+id+`"`) {
					t.Errorf("%s: the page lacks a link to %s", c.query, id)
				}
			}
		}
		// An id of another kind is found as an exact match.
		if a := get(t, base, "/search?q=L-T-001"); !strings.Contains(a.body, "Record with this identifier") || !strings.Contains(a.body, `href="/licence/L-T-001"`) {
			t.Errorf("no exact match for L-T-001:\n%s", a.body)
		}
		// A bad date is said on the form, not an error page.
		if a := get(t, base, "/search?from=tomorrow"); a.status != http.StatusBadRequest || !strings.Contains(a.body, "YYYY-MM-DD") {
			t.Errorf("bad date: %d", a.status)
		}
	})

	t.Run("downloads match the node", func(t *testing.T) {
		for _, c := range []struct{ kind, query string }{
			{"grant", "kind=grant&agency=agency-1"},
			{"payment", "kind=payment"},
			{"licence", "kind=licence"},
		} {
			a := get(t, base, "/search?format=json&"+c.query)
			var dl struct {
				Height int64             `json:"height"`
				Items  []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal([]byte(a.body), &dl); err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			lf := client.ListFilter{Limit: 100}
			if c.kind == "grant" {
				lf.Agency = "agency-1"
			}
			p, err := f.c.Records(ctx, ledger.Kind(c.kind), lf, dl.Height)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != len(dl.Items) || len(p.Items) == 0 {
				t.Fatalf("%s: %d items, the node lists %d", c.query, len(dl.Items), len(p.Items))
			}
			for i := range p.Items {
				if !bytes.Equal(compact(t, p.Items[i]), compact(t, dl.Items[i])) {
					t.Errorf("%s: item %d\n got %s\nwant %s", c.query, i, dl.Items[i], p.Items[i])
				}
			}
			ca := get(t, base, "/search?format=csv&height="+fmt.Sprint(dl.Height)+"&"+c.query)
			if ct := ca.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(ca.header.Get("Content-Disposition"), "attachment") {
				t.Errorf("CSV answer: %q %q", ct, ca.header.Get("Content-Disposition"))
			}
			if !strings.Contains(ca.header.Get("Cache-Control"), "immutable") {
				t.Errorf("a download at a height is not cached as immutable: %q", ca.header.Get("Cache-Control"))
			}
			rows, err := csv.NewReader(strings.NewReader(ca.body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(p.Items)+1 {
				t.Fatalf("%s: %d CSV rows for %d records", c.query, len(rows)-1, len(p.Items))
			}
			for i, raw := range p.Items {
				want, err := portal.CSVRecord(c.kind, raw)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(rows[i+1], want) {
					t.Errorf("%s: CSV row %d %v, want %v", c.query, i, rows[i+1], want)
				}
				var m map[string]any
				_ = json.Unmarshal(raw, &m)
				if rows[i+1][0] != m["id"] {
					t.Errorf("CSV row %d names %s, the node %v", i, rows[i+1][0], m["id"])
				}
			}
		}
		// The hostile name goes into the CSV as it is (it is data).
		if a := get(t, base, "/search?format=csv&kind=grant&q=G-T-001"); !strings.Contains(a.body, `"Acme <script>alert(""x"")</script> & <b onmouseover=alert(1)>Co</b>"`) {
			t.Errorf("CSV lacks the recipient's name as recorded:\n%s", a.body)
		}
		// Agencies and governance proposals download too.
		if a := get(t, base, "/agencies?format=csv"); a.status != http.StatusOK || !strings.HasPrefix(a.body, "id,name,jurisdiction") || !strings.Contains(a.body, "\nagency-2,") {
			t.Errorf("agencies CSV: %d %s", a.status, a.body)
		}
		if a := get(t, base, "/agencies?format=json"); a.status != http.StatusOK || len(ids(t, a.body)) != 2 {
			t.Errorf("agencies JSON: %d %s", a.status, a.body)
		}
		if a := get(t, base, "/proposals?format=csv"); a.status != http.StatusOK || !strings.HasPrefix(a.body, "id,kind,title") || !strings.Contains(a.body, "\n1,params-change,Lower the <i>four-eyes</i> threshold,agency-1,voting,") {
			t.Errorf("proposals CSV: %d %s", a.status, a.body)
		}
	})

	t.Run("pagination is bounded", func(t *testing.T) {
		a := get(t, base, "/search?format=json&kind=grant&limit=1")
		var dl struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}
		if err := json.Unmarshal([]byte(a.body), &dl); err != nil || len(dl.Items) != 1 || dl.Next != "G-T-001" {
			t.Fatalf("limit 1: %v %s", err, a.body)
		}
		page := get(t, base, "/search?kind=grant&limit=1")
		m := regexp.MustCompile(`href="(/search\?[^"]*after=G-T-001[^"]*)" rel="next"`).FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no next link:\n%s", page.body)
		}
		next := get(t, base, strings.ReplaceAll(m[1], "&amp;", "&"))
		if !strings.Contains(next.body, `href="/grant/G-T-002"`) || strings.Contains(next.body, `href="/grant/G-T-001"`) {
			t.Errorf("the next page does not hold G-T-002 alone:\n%s", next.body)
		}
		if a := get(t, base, "/search?format=json&kind=grant&limit=1000000"); a.status != http.StatusOK {
			t.Errorf("a large limit is capped, not refused: %d", a.status)
		}
		// A search whose scan budget runs out says so and offers to go on.
		h, err := portal.New(portal.Options{Node: f.net.Testnet.Agencies[0].RPC, ScanBudget: 1})
		if err != nil {
			t.Fatal(err)
		}
		small := httptest.NewServer(h)
		defer small.Close()
		cut := get(t, small.URL, "/search?kind=grant&q=beta")
		if !strings.Contains(cut.body, "The search stopped after examining 1 records") || !strings.Contains(cut.body, "after=G-T-001") {
			t.Errorf("a cut-short search does not say so:\n%s", cut.body)
		}
		if j := get(t, small.URL, "/search?format=json&kind=grant&q=beta"); !strings.Contains(j.body, `"cut_short":true`) {
			t.Errorf("JSON of a cut-short search: %s", j.body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for path, status := range map[string]int{
			"/grant/G-NONE":                          http.StatusNotFound,
			"/licence/nope":                          http.StatusNotFound,
			"/payment/a%20b":                         http.StatusNotFound,
			"/agency/agency-9":                       http.StatusNotFound,
			"/tx/" + strings.Repeat("00", 32):        http.StatusNotFound,
			"/tx/xyz":                                http.StatusNotFound,
			"/proposal/999":                          http.StatusNotFound,
			"/nowhere":                               http.StatusNotFound,
			"/search?kind=cat":                       http.StatusBadRequest,
			"/grant/G-T-001?height=-1":               http.StatusBadRequest,
			"/search?q=" + strings.Repeat("a", 3000): http.StatusRequestURITooLong,
		} {
			a := get(t, base, path)
			if a.status != status {
				t.Errorf("GET %s: %d, want %d", path, a.status, status)
			}
			if !strings.Contains(a.body, "<html lang=") || a.header.Get("Content-Security-Policy") == "" {
				t.Errorf("GET %s: no error page", path)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: error cached: %q", path, a.header.Get("Cache-Control"))
			}
		}
		res, err := http.Post(base+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", res.StatusCode)
		}
	})

	t.Run("history", func(t *testing.T) {
		at := get(t, base, "/grant/G-T-001?height="+fmt.Sprint(f.award.Height))
		if !strings.Contains(at.body, "Grant awarded") || strings.Contains(at.body, "Payment made under this grant") {
			t.Errorf("the history at the award's height holds later changes:\n%s", at.body)
		}
		now := get(t, base, "/grant/G-T-001")
		for _, w := range []string{"Grant awarded", "Payment made under this grant", "disbursed: 0.00 EUR → 250.00 EUR", "ledger --node NODE_URL verify grant G-T-001"} {
			if !strings.Contains(now.body, w) {
				t.Errorf("the grant's page lacks %q", w)
			}
		}
		h, err := portal.New(portal.Options{Node: f.net.Testnet.Agencies[0].RPC, HistoryRows: 1})
		if err != nil {
			t.Fatal(err)
		}
		short := httptest.NewServer(h)
		defer short.Close()
		a := get(t, short.URL, "/grant/G-T-001")
		if !strings.Contains(a.body, "Showing the latest 1 of 2 changes") || strings.Contains(a.body, "Grant awarded") {
			t.Errorf("a bounded history:\n%s", a.body)
		}
	})

	t.Run("bundles", func(t *testing.T) {
		gen, err := os.ReadFile(f.net.Testnet.Genesis)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := cmttypes.GenesisDocFromJSON(gen)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(gen)
		for path, want := range map[string]string{
			"/bundle/grant/G-T-001":                                   "VERIFIED",
			"/bundle/payment/P-T-002":                                 "VERIFIED",
			"/bundle/licence/L-T-001":                                 "VERIFIED",
			"/bundle/grant/G-NONE":                                    "VERIFIED ABSENT",
			"/bundle/tx/" + f.award.Hash:                              "VERIFIED",
			"/bundle/grant/G-T-002?height=" + fmt.Sprint(f.revoked-1): "VERIFIED",
		} {
			a := get(t, base, path)
			if a.status != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, a.status, a.body)
				continue
			}
			b, err := verify.ParseBundle([]byte(a.body))
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			rep, err := verify.VerifyBundle(b, doc, hex.EncodeToString(sum[:]), time.Now())
			if err != nil || rep.Outcome != want {
				t.Errorf("GET %s: %q %v, want %s", path, rep.Outcome, err, want)
			}
		}
		for _, path := range []string{"/bundle/agency/agency-1", "/bundle/tx/ABC", "/bundle/grant/bad%20id"} {
			if a := get(t, base, path); a.status != http.StatusNotFound {
				t.Errorf("GET %s: %d", path, a.status)
			}
		}
		// The verifier's files, compressed.
		if err := <-f.wasmBuilt; err != nil {
			t.Fatalf("build the in-browser verifier: %v", err)
		}
		f.wasmBuilt <- nil
		for path, ctype := range map[string]string{"/static/verify.wasm": "application/wasm", "/static/wasm_exec.js": "text/javascript", "/static/verify.js": "text/javascript"} {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
				t.Errorf("GET %s: %d %v", path, res.StatusCode, res.Header)
			}
			t.Logf("%s: %d bytes gzip", path, n)
		}
		if a := get(t, base, "/grant/G-T-001"); !strings.Contains(a.body, `data-bundle="/bundle/grant/G-T-001?height=`) || !strings.Contains(a.body, `<script src="/static/verify.js" defer></script>`) {
			t.Errorf("the grant page offers no in-browser verification")
		}
	})

	t.Run("in the browser", func(t *testing.T) { browserTests(t, ctx, f) })

	t.Run("caching", func(t *testing.T) {
		if cc := get(t, base, "/grant/G-T-001").header.Get("Cache-Control"); cc != "public, max-age=5" {
			t.Errorf("latest record: %q", cc)
		}
		if cc := get(t, base, "/grant/G-T-001?height="+fmt.Sprint(f.revoked)).header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("record at a height: %q", cc)
		}
		if cc := get(t, base, "/tx/"+f.award.Hash).header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("transaction: %q", cc)
		}
	})
}

// TestUnreachableNode: a portal whose node does not answer serves an
// error page saying so, with 503, and the static files still.
func TestUnreachableNode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h, err := portal.New(portal.Options{Node: "http://" + addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/", "/grant/G-1", "/search?q=x", "/agency/agency-1", "/verify"} {
		a := get(t, srv.URL, path)
		if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "Ledger temporarily unavailable") || a.header.Get("Retry-After") == "" {
			t.Errorf("GET %s: %d\n%s", path, a.status, a.body)
		}
		if strings.Contains(a.body, addr) {
			t.Errorf("GET %s names the node's address to the public", path)
		}
	}
	if a := get(t, srv.URL, "/static/style.css"); a.status != http.StatusOK {
		t.Errorf("stylesheet: %d", a.status)
	}
}

func ids(t *testing.T, body string) []string {
	t.Helper()
	var dl struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &dl); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, it := range dl.Items {
		out = append(out, it.ID)
	}
	return out
}

func kindOf(id string) string {
	switch id[0] {
	case 'G':
		return "grant"
	case 'L':
		return "licence"
	}
	return "payment"
}

func compact(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
