package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// proposeArgs are the arguments of "tx gov propose KIND" by agency's admin,
// with the common flags; extra flags are appended.
func proposeArgs(kind string, extra ...string) []string {
	a := []string{"tx", "gov", "propose", kind, "--from", "admin",
		"--title", "Test proposal", "--legal-basis", "Interagency agreement, art. 7", "--document-hash", testDocHash}
	return append(a, extra...)
}

// proposalID reads the id from "proposal N submitted: ..." in a propose's
// text output.
func proposalID(t *testing.T, out string) uint64 {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "proposal "); ok {
			f, _, _ := strings.Cut(rest, " ")
			if id, err := strconv.ParseUint(f, 10, 64); err == nil && strings.Contains(l, " submitted: voting until height ") {
				return id
			}
		}
	}
	t.Fatalf("no 'proposal N submitted: voting until height H' line:\n%s", out)
	return 0
}

// govTxOut is the JSON of a governance tx.
type govTxOut struct {
	client.TxResult
	ProposalID     uint64        `json:"proposal_id"`
	ProposalStatus string        `json:"proposal_status"`
	VotingEnd      int64         `json:"voting_end_height"`
	Effective      int64         `json:"effective_height"`
	Tally          *ledger.Tally `json:"tally"`
}

// TestGovFlow proposes a parameter change, votes it through with both
// agencies of a network whose notice period is short, waits for it to take
// effect, and checks the other proposal kinds, the listings and the
// rejections a voter can meet.
func TestGovFlow(t *testing.T) {
	const votingPeriod, noticePeriod = 200, 3
	net := testNetWith(t, node.NetworkOptions{Agencies: 2, ChainID: "civic-cli-gov", VotingPeriod: votingPeriod, NoticePeriod: noticePeriod})
	ok := func(i int, args ...string) string { t.Helper(); return mustCLI(t, net, i, args...) }
	as := func(i int, args ...string) []string { return append(agencyArgs(net, i), args...) }
	// synced waits until both nodes committed height h: a tx waited for
	// through one node may not be in the other's state yet.
	synced := func(h int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := net.WaitForHeight(ctx, h); err != nil {
			t.Fatal(err)
		}
	}

	before := decodeJSON[struct {
		Params ledger.Params `json:"params"`
	}](t, ok(0, "-o", "json", "query", "params")).Params
	if before.VotingPeriod != votingPeriod || before.NoticePeriod != noticePeriod {
		t.Fatalf("genesis params %+v: the network options did not set the governance periods", before)
	}
	contains(t, "params", ok(0, "query", "params"), "voting_period:", "200 blocks", "notice_period:", "3 blocks")

	// A lower four-eyes threshold; the decision document is hashed from a file.
	doc := filepath.Join(t.TempDir(), "agreement.pdf")
	if err := os.WriteFile(doc, []byte("interagency agreement"), 0o600); err != nil {
		t.Fatal(err)
	}
	propose := []string{"tx", "gov", "propose", "params-change", "--from", "admin", "--four-eyes-threshold", "250000",
		"--four-eyes-threshold", "JPY=150000000", "--four-eyes-threshold", "KWD=3000000",
		"--title", "Lower the four-eyes threshold", "--legal-basis", "Finance Act 2026, s. 12", "--document", doc}
	// The parameters left unchanged are signed as the chain holds them:
	// read with a proof, so without a trust root nothing is signed.
	wantCode(t, 2, []string{"no trust root", "ledger trust init"}, as(0, propose...)...)
	ok(0, "trust", "init", "--genesis", net.Testnet.Genesis)
	out, errOut, exit := cli(t, net, 0, propose...)
	if exit != 0 {
		t.Fatalf("propose: exit %d\nstdout: %s\nstderr: %s", exit, out, errOut)
	}
	contains(t, "params diff on stderr", errOut, "current parameters verified at height",
		fmt.Sprintf("* four_eyes_threshold: \"%d\" -> \"250000\"", before.FourEyesThreshold),
		fmt.Sprintf("replay_window: %d (unchanged)", before.ReplayWindow),
		fmt.Sprintf("voting_period: %d (unchanged)", before.VotingPeriod))
	_, h, code := txLines(t, out)
	if code != "0 (ok)" {
		t.Fatalf("propose output:\n%s", out)
	}
	synced(h)
	id := proposalID(t, out)
	sid := strconv.FormatUint(id, 10)

	p := decodeJSON[recordOut[ledger.Proposal]](t, ok(1, "-o", "json", "query", "proposal", sid)).Record
	want := before.WithFourEyes("JPY", 150_000_000, false).WithFourEyes("KWD", 3_000_000, false)
	want.FourEyesThreshold = 250000
	if p.ID != id || p.Status != ledger.ProposalVoting || p.Proposer != "agency-1" || p.Change.Kind != ledger.ProposalParamsChange ||
		p.Change.Params == nil || !p.Change.Params.Equal(want) || p.Tally.Total != 20 || p.VotingEnd != p.Submitted+votingPeriod {
		t.Fatalf("proposal %+v (params %+v)", p, p.Change.Params)
	}
	contains(t, "proposal submitted", out, "voting until height "+strconv.FormatInt(p.VotingEnd, 10))

	// agency-1 votes yes: 10 of 20 is not enough.
	out = ok(0, "tx", "gov", "vote", sid, "yes", "--from", "admin")
	contains(t, "first vote", out, "code: 0 (ok)", "voted yes on proposal "+sid+": yes 10, no 0, abstain 0 of 20 voting power (more than 2/3 yes: not reached)",
		"is open for voting until height")

	t.Run("double vote", func(t *testing.T) {
		_, errOut := wantCode(t, 1, []string{"agency already voted", "code 47", "agency-1 already voted on proposal " + sid},
			as(0, "tx", "gov", "vote", sid, "no", "--from", "admin")...)
		if !strings.Contains(errOut, "rejected") {
			t.Errorf("stderr: %s", errOut)
		}
	})

	// agency-2 votes yes: passed, it takes effect after the notice period.
	res := decodeJSON[govTxOut](t, ok(1, "-o", "json", "tx", "gov", "vote", sid, "yes", "--from", "admin"))
	synced(res.Height)
	if res.Code != 0 || res.ProposalID != id || res.ProposalStatus != string(ledger.ProposalNotice) ||
		res.Effective != res.Height+noticePeriod || res.Tally == nil || res.Tally.Yes != 20 {
		t.Fatalf("second vote %+v", res)
	}

	t.Run("tx_search of proposals in notice", func(t *testing.T) {
		// The search docs/governance.md documents: the kv indexer must
		// keep gov_proposal.status although it indexes few attributes.
		a := net.Testnet.Agencies
		search := rpcGet(t, a[1].RPC, "/tx_search?query="+url.QueryEscape(`"gov_proposal.status='notice'"`))
		if !strings.Contains(search, `"hash":"`+res.Hash+`"`) {
			t.Errorf("tx_search gov_proposal.status='notice' does not find the vote %s:\n%.2000s", res.Hash, search)
		}
		if none := rpcGet(t, a[1].RPC, "/tx_search?query="+url.QueryEscape(`"gov_proposal.kind='params-change'"`)); !strings.Contains(none, `"total_count":"0"`) {
			t.Errorf("gov_proposal.kind is indexed, no search uses it:\n%.2000s", none)
		}
	})

	t.Run("listing in notice", func(t *testing.T) {
		text := ok(0, "query", "proposals", "--status", "notice")
		page := decodeJSON[struct {
			Height int64             `json:"height"`
			Items  []ledger.Proposal `json:"items"`
			Next   string            `json:"next"`
		}](t, ok(0, "-o", "json", "query", "proposals", "--status", "notice"))
		if len(page.Items) == 0 {
			// The notice period is short: it may be over already.
			if p := decodeJSON[recordOut[ledger.Proposal]](t, ok(0, "-o", "json", "query", "proposal", sid)).Record; p.Status != ledger.ProposalExecuted {
				t.Fatalf("proposal %s is %s, and not listed in notice", sid, p.Status)
			}
			t.Skip("the proposal took effect before it could be listed in notice")
		}
		if len(page.Items) != 1 || page.Items[0].ID != id || page.Items[0].Effective != res.Effective || page.Next != "" || page.Height < res.Height {
			t.Errorf("proposals in notice %+v", page)
		}
		contains(t, "proposals in notice", text, "ID", "KIND", "STATUS", "YES/TOTAL", "params-change", "notice", "20/20",
			"Lower the four-eyes threshold", strconv.FormatInt(res.Effective, 10))
	})

	// The other kinds: an agency-power proposal (JSON output), and an
	// agency-add proposal with the validator key read from a CometBFT
	// priv_validator_key.json and the admin key from the local keystore.
	pr := decodeJSON[govTxOut](t, ok(0, append([]string{"-o", "json"}, proposeArgs("agency-power", "--target", "agency-2", "--power", "12")...)...))
	if pr.Code != 0 || pr.ProposalID != id+1 || pr.ProposalStatus != string(ledger.ProposalVoting) || pr.VotingEnd != pr.Height+votingPeriod {
		t.Fatalf("agency-power proposal %+v", pr)
	}
	pvDir := t.TempDir()
	pv := privval.GenFilePV(filepath.Join(pvDir, "priv_validator_key.json"), filepath.Join(pvDir, "priv_validator_state.json"))
	pv.Save()
	newValKey := pv.Key.PubKey.Bytes()
	ok(0, "keys", "add", "newadmin", "--agency", "agency-3")
	out = ok(0, proposeArgs("agency-add", "--target", "agency-3", "--name", "Agency 3", "--jurisdiction", "Testland",
		"--validator-key-file", filepath.Join(pvDir, "priv_validator_key.json"), "--power", "5",
		"--admin-key-name", "newadmin", "--admin-name", "Agency 3 admin officer")...)
	addID := proposalID(t, out)
	_, h, _ = txLines(t, out)
	synced(h)
	add := decodeJSON[recordOut[ledger.Proposal]](t, ok(0, "-o", "json", "query", "proposal", strconv.FormatUint(addID, 10))).Record
	if !bytes.Equal(add.Change.ValidatorKey, newValKey) || add.Change.Power != 5 || len(add.Change.AdminKey) != 32 || add.Change.Target != "agency-3" {
		t.Errorf("agency-add proposal %+v", add.Change)
	}
	contains(t, "agency-add text", ok(1, "query", "proposal", strconv.FormatUint(addID, 10)),
		"kind:", "agency-add", "validator_key:", hex.EncodeToString(newValKey), "admin_name:", "Agency 3 admin officer",
		"status:", "voting", "votes:", "0 of 2 agencies", "agency-2")

	t.Run("guard rails", func(t *testing.T) {
		// Power 20 of 20 moves more than 1/3: the chain refuses it.
		wantCode(t, 1, []string{"guard rail"}, as(0, proposeArgs("agency-power", "--target", "agency-2", "--power", "20")...)...)
		wantCode(t, 1, []string{"unknown agency"}, as(0, proposeArgs("agency-remove", "--target", "agency-9")...)...)
		// The parameters already have these values.
		wantCode(t, 2, []string{"would change nothing"}, as(0, proposeArgs("params-change", "--replay-window", strconv.FormatInt(before.ReplayWindow, 10))...)...)
	})

	// Wait for the change to take effect.
	deadline := time.Now().Add(60 * time.Second)
	for {
		p = decodeJSON[recordOut[ledger.Proposal]](t, ok(0, "-o", "json", "query", "proposal", sid)).Record
		if p.Status == ledger.ProposalExecuted {
			break
		}
		if p.Status != ledger.ProposalNotice || time.Now().After(deadline) {
			t.Fatalf("proposal %s is %s (result %q), want executed", sid, p.Status, p.Result)
		}
		time.Sleep(200 * time.Millisecond)
	}
	synced(p.ClosedHeight)
	if p.ClosedHeight < p.Effective || p.PassedHeight != res.Height || p.Effective != res.Effective {
		t.Errorf("executed proposal heights %+v", p)
	}
	after := decodeJSON[struct {
		Params ledger.Params `json:"params"`
	}](t, ok(1, "-o", "json", "query", "params")).Params
	if !after.Equal(want) {
		t.Errorf("params after the change %+v, want %+v", after, want)
	}
	contains(t, "params text", ok(1, "query", "params"), "four_eyes_threshold:", "250000 minor units", "JPY: 150000000 JPY (150000000 minor units)",
		"KWD: 3000.000 KWD (3000000 minor units)")
	contains(t, "executed proposal", ok(1, "query", "proposal", sid),
		"id:", sid, "kind:", "params-change", "title:", "Lower the four-eyes threshold", "legal_basis:", "Finance Act 2026, s. 12",
		"proposer:", "agency-1", "proposer_officer:", "agency-1 admin officer (", "four_eyes_threshold:", "250000 minor units",
		"status:", "executed", "tally:", "yes 20, no 0, abstain 0 of 20 voting power (more than 2/3 yes: reached)",
		"effective_height:", strconv.FormatInt(p.Effective, 10), "closed_height:", strconv.FormatInt(p.ClosedHeight, 10),
		"AGENCY", "agency-1", "agency-2", "yes", "agency-2 admin officer (")

	t.Run("voting closed", func(t *testing.T) {
		wantCode(t, 1, []string{"not open for voting", "code 45"}, as(1, "tx", "gov", "vote", sid, "yes", "--from", "admin")...)
	})
	t.Run("not found", func(t *testing.T) {
		wantCode(t, 1, []string{"proposal 999 not found"}, as(0, "query", "proposal", "999")...)
		wantCode(t, 1, []string{"proposal 999"}, as(0, "tx", "gov", "vote", "999", "yes", "--from", "admin")...)
	})
	t.Run("listings", func(t *testing.T) {
		contains(t, "executed", ok(0, "query", "proposals", "--status", "executed"), "params-change", "executed")
		contains(t, "none rejected", ok(0, "query", "proposals", "--status", "rejected"), "no proposals found")
		contains(t, "first page", ok(0, "query", "proposals", "--limit", "1"), "params-change", "next page: --after "+sid)
		page := decodeJSON[struct {
			Items []ledger.Proposal `json:"items"`
			Next  string            `json:"next"`
		}](t, ok(0, "-o", "json", "query", "proposals", "--limit", "1", "--after", sid))
		if len(page.Items) != 1 || page.Items[0].ID != id+1 || page.Items[0].Change.Kind != ledger.ProposalAgencyPower || page.Next != strconv.FormatUint(id+1, 10) {
			t.Errorf("second page %+v", page)
		}
		all := decodeJSON[struct {
			Items []ledger.Proposal `json:"items"`
		}](t, ok(0, "-o", "json", "query", "proposals", "--status", "voting"))
		if len(all.Items) != 2 || all.Items[0].ID != id+1 || all.Items[1].ID != addID {
			t.Errorf("proposals in voting %+v", all.Items)
		}
	})
}

// TestGovUsageErrors checks that bad governance invocations exit 2 without
// contacting the node.
func TestGovUsageErrors(t *testing.T) {
	home := t.TempDir()
	nodeURL, hits := countingNode(t)
	g := []string{"--home", home, "--keyring-backend", "test", "--node", nodeURL}
	if _, errOut, code := run(t, append(g, "keys", "add", "admin", "--agency", "agency-1")...); code != 0 {
		t.Fatalf("keys add: %d %s", code, errOut)
	}
	with := func(args ...string) []string { return append(append([]string{}, g...), args...) }
	key := strings.Repeat("ab", 32)
	badFile := filepath.Join(home, "key.json")
	if err := os.WriteFile(badFile, []byte(`{"pub_key":{"type":"tendermint/PubKeySecp256k1","value":"AA=="}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"vote bad option", with("tx", "gov", "vote", "1", "maybe", "--from", "admin"), []string{`vote "maybe"`, "yes, no or abstain"}},
		{"vote bad id", with("tx", "gov", "vote", "one", "yes", "--from", "admin"), []string{`proposal id "one"`}},
		{"vote id zero", with("tx", "gov", "vote", "0", "yes", "--from", "admin"), []string{"positive integer"}},
		{"vote missing option", with("tx", "gov", "vote", "1", "--from", "admin"), []string{"usage: ledger tx gov vote ID yes|no|abstain"}},
		{"unknown kind", with("tx", "gov", "propose", "agency-merge", "--from", "admin"), []string{`unknown proposal kind "agency-merge"`, "params-change"}},
		{"unknown gov command", with("tx", "gov", "withdraw"), []string{`unknown command "withdraw"`}},
		{"missing title", with(slicesWithout(proposeArgs("agency-remove", "--target", "agency-2"), "--title", "Test proposal")...), []string{"required flag --title not set"}},
		{"missing legal basis and target", with(slicesWithout(proposeArgs("agency-remove"), "--legal-basis", "Interagency agreement, art. 7")...), []string{"--legal-basis, --target"}},
		{"missing document", with(slicesWithout(proposeArgs("agency-remove", "--target", "agency-2"), "--document-hash", testDocHash)...), []string{"--document-hash or --document"}},
		{"bad target", with(proposeArgs("agency-remove", "--target", "agency 2")...), []string{"--target"}},
		{"power zero", with(proposeArgs("agency-power", "--target", "agency-2", "--power", "0")...), []string{"--power must be between 1"}},
		{"missing power", with(proposeArgs("agency-power", "--target", "agency-2")...), []string{"--power"}},
		{"params nothing", with(proposeArgs("params-change")...), []string{"nothing to change", "--four-eyes-threshold"}},
		{"params bad value", with(proposeArgs("params-change", "--max-tx-bytes", "10")...), []string{"params.max_tx_bytes"}},
		{"params negative threshold", with(proposeArgs("params-change", "--four-eyes-threshold", "-1")...), []string{"four_eyes_threshold"}},
		{"params zero notice", with(proposeArgs("params-change", "--notice-period", "0")...), []string{"notice_period"}},
		{"params threshold of unknown currency", with(proposeArgs("params-change", "--four-eyes-threshold", "XYZ=5")...), []string{"--four-eyes-threshold", `unknown currency "XYZ"`}},
		{"params negative currency threshold", with(proposeArgs("params-change", "--four-eyes-threshold", "JPY=-1")...), []string{"--four-eyes-threshold", "non-negative integer in JPY minor units"}},
		{"params threshold not a number", with(proposeArgs("params-change", "--four-eyes-threshold", "JPY=1.5")...), []string{"--four-eyes-threshold", "non-negative integer"}},
		{"rotate no key", with(proposeArgs("validator-rotate", "--target", "agency-2")...), []string{"--validator-key (or --validator-key-file)"}},
		{"rotate bad key", with(proposeArgs("validator-rotate", "--target", "agency-2", "--validator-key", "abc")...), []string{"--validator-key", "ed25519"}},
		{"rotate both keys", with(proposeArgs("validator-rotate", "--target", "agency-2", "--validator-key", key, "--validator-key-file", badFile)...), []string{"not both"}},
		{"rotate wrong key type", with(proposeArgs("validator-rotate", "--target", "agency-2", "--validator-key-file", badFile)...), []string{"PubKeySecp256k1"}},
		{"rotate missing file", with(proposeArgs("validator-rotate", "--target", "agency-2", "--validator-key-file", filepath.Join(home, "nope.json"))...), []string{"--validator-key-file"}},
		{"add no admin key", with(proposeArgs("agency-add", "--target", "agency-3", "--name", "A3", "--validator-key", key, "--power", "1", "--admin-name", "x")...), []string{"--admin-key (or --admin-key-name)"}},
		{"add unknown admin key name", with(proposeArgs("agency-add", "--target", "agency-3", "--name", "A3", "--validator-key", key, "--power", "1", "--admin-name", "x", "--admin-key-name", "nobody")...), []string{"--admin-key-name", "not found"}},
		{"add bad admin key", with(proposeArgs("agency-add", "--target", "agency-3", "--name", "A3", "--validator-key", key, "--power", "1", "--admin-name", "x", "--admin-key", "zz")...), []string{"--admin-key"}},
		{"add missing flags", with(proposeArgs("agency-add", "--target", "agency-3")...), []string{"--name, --power, --admin-name"}},
		{"field of another kind", with(proposeArgs("agency-remove", "--target", "agency-2", "--power", "3")...), []string{"unknown flag: --power"}},
		{"proposal bad id", with("query", "proposal", "abc"), []string{`proposal id "abc"`}},
		{"proposals bad status", with("query", "proposals", "--status", "open"), []string{`--status "open"`, "voting, notice, executed, rejected, failed"}},
		{"proposals bad limit", with("query", "proposals", "--limit", "0"), []string{"--limit"}},
		{"proposals bad after", with("query", "proposals", "--after", "x"), []string{"--after"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, 2, c.want, c.args...)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("usage errors contacted the node %d times", n)
	}
	// A node that cannot be reached: exit 3.
	dead := []string{"--home", home, "--keyring-backend", "test", "--node", deadNode(t)}
	wantCode(t, 3, nil, append(dead, "tx", "gov", "vote", "1", "yes", "--from", "admin")...)
	wantCode(t, 3, nil, append(dead, proposeArgs("params-change", "--replay-window", "10")...)...)
	wantCode(t, 3, nil, append(dead, "query", "proposals")...)
}

// slicesWithout returns args without the flag and its value.
func slicesWithout(args []string, flag, value string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag && i+1 < len(args) && args[i+1] == value {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// TestParseValidatorKey reads a validator key in each accepted form.
func TestParseValidatorKey(t *testing.T) {
	dir := t.TempDir()
	pv := privval.GenFilePV(filepath.Join(dir, "priv_validator_key.json"), filepath.Join(dir, "priv_validator_state.json"))
	pv.Save()
	want := pv.Key.PubKey.Bytes()
	file, err := os.ReadFile(filepath.Join(dir, "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	b64Key := b64(want)
	for name, in := range map[string]string{
		"priv_validator_key.json": string(file),
		"json object":             `{"type":"tendermint/PubKeyEd25519","value":"` + b64Key + `"}`,
		"base64":                  b64Key + "\n",
		"hex":                     hex.EncodeToString(want),
	} {
		got, err := parseValidatorKey("key", in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; want %x", name, got, err, want)
		}
	}
	for _, in := range []string{"", "{", `{"type":"tendermint/PubKeyEd25519","value":"AAAA"}`, `{"value":"` + b64Key + `"}`, "abcd"} {
		if _, err := parseValidatorKey("key", in); exitCode(err) != exitUsage {
			t.Errorf("%q: err %v, want a usage error", in, err)
		}
	}
}
