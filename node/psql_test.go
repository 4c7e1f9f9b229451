package node_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// pgBin finds PostgreSQL's server binaries (Debian puts them outside PATH).
func pgBin(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append([]string{filepath.Dir(p)}, dirs...)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
				return d
			}
		}
	}
	t.Fatal("PostgreSQL server binaries (initdb, pg_ctl) not found: run make deps")
	return ""
}

// startPostgres runs a throwaway PostgreSQL server on a free loopback port
// (unix sockets in its own directory), stopped when the test ends, and
// returns the connection string of a new database holding CometBFT's
// event sink schema (docs/psql-schema.sql). PostgreSQL refuses to run as
// root: as root it runs as the postgres OS user.
func startPostgres(t *testing.T) string {
	t.Helper()
	bin := pgBin(t)
	dir, err := os.MkdirTemp("", "civic-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	as := func(name string, args ...string) *exec.Cmd { return exec.Command(filepath.Join(bin, name), args...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres OS user (run make deps): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		as = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := as("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ports[0])
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	if out, err := as("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "postgres.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		if out, err := as("pg_ctl", "-D", data, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			t.Logf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	admin, err := sql.Open("postgres", "postgres://postgres@127.0.0.1:"+port+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE civic"); err != nil {
		t.Fatal(err)
	}
	conn := "postgres://postgres@127.0.0.1:" + port + "/civic?sslmode=disable"
	schema, err := os.ReadFile(filepath.Join("..", "docs", "psql-schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", conn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(schema)); err != nil {
		t.Fatalf("load schema: %v", err)
	}
	return conn
}

// TestAuditorPsqlSink runs two validators and an auditor full node whose
// CometBFT event sink is a real PostgreSQL database, records grants,
// payments and a licence revocation, and finds them with SQL.
func TestAuditorPsqlSink(t *testing.T) {
	conn := startPostgres(t)
	dir := t.TempDir()
	tn, err := node.GenerateTestnet(node.TestnetOptions{
		Agencies: 2, Output: filepath.Join(dir, "net"), ChainID: "civic-psql-test", Fast: true,
		Keyring: keystore.BackendTest, ExtraOfficers: true, AuditorPsql: conn,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Auditor == nil || tn.Auditor.Home != filepath.Join(dir, "net", node.AuditorName) {
		t.Fatalf("auditor home: %+v", tn.Auditor)
	}

	t.Run("validators refuse psql", func(t *testing.T) {
		cfg, err := node.LoadConfig(tn.Agencies[0].Home)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TxIndex.Indexer, cfg.TxIndex.PsqlConn = "psql", conn
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "auditor node") {
			t.Errorf("validator with psql: %v", err)
		}
		// Marking a validator's home as an auditor node does not help.
		cfg.App.AuditorNode = true
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "validator") {
			t.Errorf("validator marked auditor with psql: %v", err)
		}
		acfg, err := node.LoadConfig(tn.Auditor.Home)
		if err != nil {
			t.Fatalf("auditor home: %v", err)
		}
		if !acfg.App.AuditorNode || acfg.TxIndex.Indexer != "psql" || acfg.TxIndex.PsqlConn != conn {
			t.Errorf("auditor config: %+v %+v", acfg.App, acfg.TxIndex)
		}
		acfg.TxIndex.PsqlConn = ""
		if err := acfg.Validate(); err == nil || !strings.Contains(err.Error(), "psql-conn") {
			t.Errorf("auditor without psql-conn: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	net, err := node.StartTestnet(ctx, tn, node.NetworkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	aud, err := net.StartAuditor()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = aud.Stop() })

	submit := func(i int, officer string, p ledger.Payload) int64 {
		t.Helper()
		c, err := client.New(tn.Agencies[i].RPC)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := c.BuildTx(ctx, client.Signer{Agency: tn.Agencies[i].ID, Keys: []ed25519.PrivateKey{officerKey(t, net, i, officer)}}, p, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Submit(ctx, raw, true)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			t.Fatalf("%s by %s: code %d: %s", p.Type(), tn.Agencies[i].ID, res.Code, res.Log)
		}
		return res.Height
	}
	party := ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"}
	award := func(id, amount, cur string) *ledger.GrantAward {
		return &ledger.GrantAward{ID: id, Recipient: party, Programme: "Digital", Purpose: "Broadband rollout",
			Amount: amount, Currency: cur, PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash}
	}
	pay := func(id, amount, cur, grant string) *ledger.PaymentRecord {
		return &ledger.PaymentRecord{ID: id, Payee: party, Amount: amount, Currency: cur, Date: "2026-02-01", Purpose: "Instalment", Grant: grant}
	}
	submit(0, "grants", award("G-1", "100000", "EUR"))
	submit(0, "grants", award("G-2", "50000", "USD")) // no payment
	submit(0, "finance", pay("P-1", "25000", "EUR", "G-1"))
	submit(0, "finance", pay("P-2", "10000", "EUR", ""))
	submit(1, "grants", award("G-3", "70000", "EUR"))
	submit(1, "finance", pay("P-3", "20000", "EUR", "G-3"))
	submit(1, "licensing", &ledger.LicenceIssue{ID: "L-1", Holder: party, LicenceType: "premises", Scope: "Sale of alcohol",
		ValidFrom: "2026-01-01", ValidUntil: "2030-12-31", DecisionDate: "2025-12-15", ConditionsHash: docHash})
	submit(1, "licensing", &ledger.LicenceRevoke{ID: "L-1", DocumentHash: docHash, Reason: "Breach of conditions"})
	// A governance proposal voted into its notice period.
	params := ledger.DefaultParams()
	params.FourEyesThreshold = 500000
	submit(0, "admin", &ledger.GovPropose{Kind: ledger.ProposalParamsChange, Title: "Lower the four-eyes threshold",
		LegalBasis: "Finance Act, s. 12", DocumentHash: docHash, Params: &params})
	submit(0, "admin", &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes})
	last := submit(1, "admin", &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes})

	// The auditor follows the chain (it is not a validator) and indexes
	// each block as it commits it.
	for aud.Height() < last+1 {
		select {
		case <-ctx.Done():
			t.Fatalf("auditor at height %d, want %d", aud.Height(), last+1)
		case <-time.After(100 * time.Millisecond):
		}
	}

	db, err := sql.Open("postgres", conn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	one := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	if n := one(`SELECT count(*) FROM tx_results`); n != 11 {
		t.Errorf("tx_results: %d rows, want 11", n)
	}
	if n := one(`SELECT count(*) FROM blocks WHERE chain_id = 'civic-psql-test'`); n < last {
		t.Errorf("blocks: %d rows, want at least %d", n, last)
	}
	if n := one(`SELECT count(*) FROM events e JOIN attributes a ON a.event_id = e.rowid WHERE e.type = 'payment'`); n == 0 {
		t.Error("no payment event attributes")
	}

	// Payments per agency (the docs' query, without the month).
	rows, err := db.Query(`
		SELECT ag.value AS agency, cur.value AS currency, count(*) AS payments, sum(amt.value::bigint) AS amount
		FROM tx_events ag
		JOIN tx_events act ON act.height = ag.height AND act.index = ag.index AND act.type = 'payment' AND act.key = 'action'
		JOIN tx_events cur ON cur.height = ag.height AND cur.index = ag.index AND cur.type = 'payment' AND cur.key = 'currency'
		JOIN tx_events amt ON amt.height = ag.height AND amt.index = ag.index AND amt.type = 'payment' AND amt.key = 'amount'
		WHERE ag.type = 'payment' AND ag.key = 'agency' AND act.value = 'record' AND ag.chain_id = $1
		GROUP BY 1, 2 ORDER BY 1, 2`, "civic-psql-test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var agency, cur string
		var n, amount int64
		if err := rows.Scan(&agency, &cur, &n, &amount); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %d", agency, cur, n, amount))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if want := "agency-1 EUR 2 35000,agency-2 EUR 1 20000"; strings.Join(got, ",") != want {
		t.Errorf("payments per agency: %q, want %q", strings.Join(got, ","), want)
	}

	// Grants without payments.
	var ids []string
	rows, err = db.Query(`
		SELECT DISTINCT g.value FROM tx_events g
		JOIN tx_events a ON a.height = g.height AND a.index = g.index AND a.type = 'grant' AND a.key = 'action' AND a.value = 'award'
		WHERE g.type = 'grant' AND g.key = 'id'
		  AND NOT EXISTS (SELECT 1 FROM event_attributes p WHERE p.type = 'payment' AND p.key = 'grant' AND p.value = g.value)
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if strings.Join(ids, ",") != "G-2" {
		t.Errorf("grants without payments: %q, want G-2", ids)
	}

	// Licence revocations.
	if n := one(`SELECT count(*) FROM tx_events WHERE type = 'licence' AND key = 'action' AND value = 'revoke'`); n != 1 {
		t.Errorf("licence revocations: %d, want 1", n)
	}
	// Every example query of docs/auditors.md runs, and the first four
	// answer what was recorded.
	queries := docQueries(t)
	if len(queries) != 5 {
		t.Fatalf("docs/auditors.md has %d sql blocks, want 5", len(queries))
	}
	wants := []string{
		"agency-1|*|EUR|2|35000,agency-2|*|EUR|1|20000",
		"G-2",
		"*|L-1|agency-2|*",
		"1|params-change||*|*",
		"",
	}
	for i, q := range queries {
		got := queryRows(t, db, q)
		if wants[i] != "" && !matchRows(got, wants[i]) {
			t.Errorf("docs query %d: %q, want %q\n%s", i+1, got, wants[i], q)
		}
	}
	// The tx events carry the tx type too.
	if n := one(`SELECT count(*) FROM tx_events WHERE type = 'tx' AND key = 'type' AND value = $1`, ledger.TypePaymentRecord); n != 3 {
		t.Errorf("payment.record txs: %d, want 3", n)
	}
}

// docQueries returns the ```sql blocks of docs/auditors.md.
func docQueries(t *testing.T) []string {
	t.Helper()
	bz, err := os.ReadFile(filepath.Join("..", "docs", "auditors.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	parts := strings.Split(string(bz), "```sql\n")
	for _, p := range parts[1:] {
		q, _, ok := strings.Cut(p, "```")
		if !ok {
			t.Fatal("unterminated sql block in docs/auditors.md")
		}
		out = append(out, q)
	}
	return out
}

// queryRows runs q and returns its rows as "a|b|c" joined by ",".
func queryRows(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(cols))
		for i, v := range vals {
			cells[i] = v.String
		}
		out = append(out, strings.Join(cells, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}

// matchRows compares rows with a pattern in which a "*" cell matches anything.
func matchRows(got, want string) bool {
	g, w := strings.Split(got, ","), strings.Split(want, ",")
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		gc, wc := strings.Split(g[i], "|"), strings.Split(w[i], "|")
		if len(gc) != len(wc) {
			return false
		}
		for j := range gc {
			if wc[j] != "*" && wc[j] != gc[j] {
				return false
			}
		}
	}
	return true
}
