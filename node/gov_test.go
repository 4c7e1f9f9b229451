package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// govSubmit signs a payload with an officer's key and waits for its result.
func govSubmit(ctx context.Context, t *testing.T, c *client.Client, agency string, key ed25519.PrivateKey, p ledger.Payload) *client.TxResult {
	t.Helper()
	raw, err := c.BuildTx(ctx, client.Signer{Agency: agency, Keys: []ed25519.PrivateKey{key}}, p, client.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Submit(ctx, raw, true)
	if err != nil {
		t.Fatalf("%s by %s: %v", p.Type(), agency, err)
	}
	return res
}

func mustSucceed(t *testing.T, what string, res *client.TxResult) {
	t.Helper()
	if !res.OK() {
		t.Fatalf("%s: code %d: %s", what, res.Code, res.Log)
	}
}

// waitProposal polls a proposal until it has the status and returns it.
func waitProposal(ctx context.Context, t *testing.T, c *client.Client, id uint64, status ledger.ProposalStatus) *ledger.Proposal {
	t.Helper()
	for {
		res, err := c.Query(ctx, fmt.Sprintf("/proposal/%d", id), nil, 0, false)
		if err == nil && res.Code == 0 {
			var p ledger.Proposal
			if err := json.Unmarshal(res.Value, &p); err != nil {
				t.Fatal(err)
			}
			if p.Status == status {
				return &p
			}
			if p.Status != ledger.ProposalVoting && p.Status != ledger.ProposalNotice {
				t.Fatalf("proposal %d ended %s (%s), want %s", id, p.Status, p.Result, status)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("proposal %d did not become %s", id, status)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// signedBy reports whether the commit of height h (in header h+1's last
// commit, served by /commit?height=h) carries a signature of the validator.
func signedBy(ctx context.Context, t *testing.T, c *client.Client, h int64, valKey []byte) bool {
	t.Helper()
	cm, err := c.RPC().Commit(ctx, &h)
	if err != nil {
		t.Fatal(err)
	}
	addr := cmted25519.PubKey(valKey).Address()
	for _, s := range cm.Commit.Signatures {
		if bytes.Equal(s.ValidatorAddress, addr) && s.BlockIDFlag == cmttypes.BlockIDFlagCommit {
			return true
		}
	}
	return false
}

func inValidatorSet(ctx context.Context, t *testing.T, c *client.Client, h int64, valKey []byte) bool {
	t.Helper()
	vs, err := c.RPC().Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Validators {
		if bytes.Equal(v.PubKey.Bytes(), valKey) {
			return true
		}
	}
	return false
}

// TestAgencyJoinsAndLeavesByVote: a 4-agency network admits a fifth agency
// whose node joined with JoinHome (`ledgerd init --join`): after the vote
// and the notice period its validator signs blocks, its admin officer acts,
// and a record verifies from the genesis trust root across the change. Then
// the agencies remove agency-4: its validator leaves the set, its officers'
// transactions are rejected, and the chain keeps committing.
func TestAgencyJoinsAndLeavesByVote(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 180*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{
		Agencies: 4, ExtraOfficers: true, ChainID: "civic-gov", VotingPeriod: 200, NoticePeriod: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, _ := client.New(a[0].RPC)
	admin := func(i int) ed25519.PrivateKey { return officerKey(t, net, i, "admin") }

	mustSucceed(t, "award", govSubmit(ctx, t, c, a[0].ID, officerKey(t, net, 0, "grants"), &ledger.GrantAward{
		ID: "G-GOV", Recipient: ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"},
		Programme: "Digital", Purpose: "Broadband", Amount: "1000", Currency: "EUR",
		PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash,
	}))

	// The new agency prepares its home from two running nodes and starts
	// following the chain.
	ports, err := node.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := node.JoinHome(ctx, node.JoinOptions{
		Home: filepath.Join(t.TempDir(), "agency-5"), AgencyID: "agency-5", Peers: []string{a[0].RPC, a[1].RPC},
		Keyring: keystore.BackendTest, Fast: true,
		P2PListen: fmt.Sprintf("127.0.0.1:%d", ports[0]), RPCListen: fmt.Sprintf("127.0.0.1:%d", ports[1]), MetricsListen: fmt.Sprintf("127.0.0.1:%d", ports[2]),
	})
	if err != nil {
		t.Fatal(err)
	}
	if joined.ChainID != "civic-gov" {
		t.Fatalf("joined chain %q", joined.ChainID)
	}
	net.Testnet.Agencies = append(net.Testnet.Agencies, *joined.Home)
	net.Nodes = append(net.Nodes, nil)
	if err := net.StartNode(4, nil); err != nil {
		t.Fatal(err)
	}
	a = net.Testnet.Agencies
	ks5, err := keystore.Open(filepath.Join(joined.Home.Home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin5, err := ks5.PrivKey("admin")
	if err != nil {
		t.Fatal(err)
	}

	// Propose; two yes votes (20 of 40) are not enough, a third passes it.
	res := govSubmit(ctx, t, c, a[0].ID, admin(0), &ledger.GovPropose{
		Kind: ledger.ProposalAgencyAdd, Title: "Admit the County Health Board", LegalBasis: "Public Ledger Act, s. 4",
		DocumentHash: docHash, Target: "agency-5", Name: "County Health Board", ValidatorKey: joined.ValidatorKey, Power: 10,
		AdminKey: joined.AdminKey, AdminName: "Health admin",
	})
	mustSucceed(t, "propose", res)
	const add = 1
	for i := 0; i < 2; i++ {
		mustSucceed(t, "vote", govSubmit(ctx, t, c, a[i].ID, admin(i), &ledger.GovVote{Proposal: add, Option: ledger.VoteYes}))
	}
	// Not an admin: rejected with the role rule.
	if r := govSubmit(ctx, t, c, a[2].ID, officerKey(t, net, 2, "grants"), &ledger.GovVote{Proposal: add, Option: ledger.VoteYes}); r.Code != uint32(ledger.ErrMissingRole.Code) {
		t.Fatalf("vote by a grants officer: code %d (%s)", r.Code, r.Log)
	}
	// The joining agency has no say yet.
	if r := govSubmit(ctx, t, c, "agency-5", admin5, &ledger.GovVote{Proposal: add, Option: ledger.VoteYes}); r.Code != uint32(ledger.ErrUnknownAgency.Code) {
		t.Fatalf("vote by the candidate: code %d (%s)", r.Code, r.Log)
	}
	mustSucceed(t, "vote", govSubmit(ctx, t, c, a[2].ID, admin(2), &ledger.GovVote{Proposal: add, Option: ledger.VoteYes}))
	if r := govSubmit(ctx, t, c, a[2].ID, admin(2), &ledger.GovVote{Proposal: add, Option: ledger.VoteNo}); r.Code != uint32(ledger.ErrVotingClosed.Code) {
		t.Fatalf("vote after passing: code %d (%s)", r.Code, r.Log)
	}
	p := waitProposal(ctx, t, c, add, ledger.ProposalExecuted)
	if p.Effective-p.PassedHeight != 3 || p.ClosedHeight < p.Effective {
		t.Fatalf("executed proposal: passed %d effective %d closed %d", p.PassedHeight, p.Effective, p.ClosedHeight)
	}
	exec := p.ClosedHeight
	// CometBFT applies the update returned at height E from height E+2.
	if err := net.WaitForHeight(ctx, exec+4); err != nil {
		t.Fatal(err)
	}
	if inValidatorSet(ctx, t, c, exec+1, joined.ValidatorKey) || !inValidatorSet(ctx, t, c, exec+2, joined.ValidatorKey) {
		t.Fatalf("agency-5's validator should join the set at height %d exactly", exec+2)
	}
	signed := false
	for h := exec + 2; h <= exec+3 && !signed; h++ {
		signed = signedBy(ctx, t, c, h, joined.ValidatorKey)
	}
	if !signed {
		t.Fatalf("agency-5's validator signed neither block %d nor %d", exec+2, exec+3)
	}
	// Its admin acts at once.
	c5, _ := client.New(a[4].RPC)
	mustSucceed(t, "officer-add by agency-5", govSubmit(ctx, t, c5, "agency-5", admin5, &ledger.OfficerAdd{
		Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32)).Public().(ed25519.PublicKey), Name: "Health grants", Roles: []ledger.Role{ledger.RoleGrants},
	}))

	// Verification from the genesis trust root across the change.
	home := t.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	v, err := client.NewVerifier(ctx, home, a[0].RPC, []string{a[1].RPC, a[4].RPC})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-GOV"), 0)
	if err != nil {
		t.Fatalf("verify after the validator set changed: %v", err)
	}
	if !kp.Present || kp.Height < exec+2 {
		t.Fatalf("verified at height %d (present %v), want after %d", kp.Height, kp.Present, exec+2)
	}
	names, err := v.AgencyNames(ctx, kp.Height)
	if err != nil || len(names) != 5 {
		t.Fatalf("agency names: %v %v", names, err)
	}

	// Remove agency-4 (10 of 50): four yes votes.
	mustSucceed(t, "propose removal", govSubmit(ctx, t, c, a[0].ID, admin(0), &ledger.GovPropose{
		Kind: ledger.ProposalAgencyRemove, Title: "Remove agency-4", LegalBasis: "Public Ledger Act, s. 9", DocumentHash: docHash, Target: "agency-4",
	}))
	const rm = 2
	for _, i := range []int{0, 1, 2} {
		mustSucceed(t, "vote", govSubmit(ctx, t, c, a[i].ID, admin(i), &ledger.GovVote{Proposal: rm, Option: ledger.VoteYes}))
	}
	if pr := waitProposal(ctx, t, c, rm, ledger.ProposalVoting); pr.Tally.Yes != 30 || pr.Tally.Total != 50 {
		t.Fatalf("tally after three yes: %+v", pr.Tally)
	}
	mustSucceed(t, "vote", govSubmit(ctx, t, c5, "agency-5", admin5, &ledger.GovVote{Proposal: rm, Option: ledger.VoteYes}))
	p = waitProposal(ctx, t, c, rm, ledger.ProposalExecuted)
	gone := p.ClosedHeight
	if r := govSubmit(ctx, t, c, a[3].ID, officerKey(t, net, 3, "grants"), &ledger.GrantAward{
		ID: "G-AFTER", Recipient: ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"},
		Programme: "Digital", Purpose: "Broadband", Amount: "1000", Currency: "EUR",
		PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash,
	}); r.Code != uint32(ledger.ErrAgencyRemoved.Code) {
		t.Fatalf("award by a removed agency: code %d (%s)", r.Code, r.Log)
	}
	if err := net.WaitForHeight(ctx, gone+4); err != nil {
		t.Fatalf("chain stalled after the removal: %v", err)
	}
	if inValidatorSet(ctx, t, c, gone+2, a[3].ValidatorK) || !inValidatorSet(ctx, t, c, gone+1, a[3].ValidatorK) {
		t.Fatalf("agency-4's validator should leave the set at height %d", gone+2)
	}
	// All five nodes (agency-4's now a full node) agree on the state.
	hashes, err := net.AppHashes(gone + 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(hashes); i++ {
		if !bytes.Equal(hashes[0], hashes[i]) {
			t.Fatalf("height %d: node 0 %X, node %d %X", gone+3, hashes[0], i, hashes[i])
		}
	}

	// Rotate agency-5's validator key (10 of 40). Until CometBFT applies the
	// change, two blocks later, the old key still signs: a verification at
	// the rotation height names its signature by the validator key index.
	newKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey)
	mustSucceed(t, "propose rotation", govSubmit(ctx, t, c, a[0].ID, admin(0), &ledger.GovPropose{
		Kind: ledger.ProposalValidatorRotate, Title: "New HSM for agency-5", LegalBasis: "Public Ledger Act, s. 6", DocumentHash: docHash,
		Target: "agency-5", ValidatorKey: newKey,
	}))
	const rot = 3 // three yes votes: 30 of 40
	for _, i := range []int{0, 1, 2} {
		mustSucceed(t, "vote", govSubmit(ctx, t, c, a[i].ID, admin(i), &ledger.GovVote{Proposal: rot, Option: ledger.VoteYes}))
	}
	rotated := waitProposal(ctx, t, c, rot, ledger.ProposalExecuted).ClosedHeight
	if err := net.WaitForHeight(ctx, rotated+3); err != nil {
		t.Fatalf("chain stalled after the rotation: %v", err)
	}
	if !inValidatorSet(ctx, t, c, rotated+1, joined.ValidatorKey) || inValidatorSet(ctx, t, c, rotated+2, joined.ValidatorKey) ||
		!inValidatorSet(ctx, t, c, rotated+2, newKey) {
		t.Fatalf("the rotation should swap agency-5's keys at height %d", rotated+2)
	}
	rep, err := v.VerifyKeyReport(ctx, ledger.StoreGrants, []byte("G-GOV"), rotated)
	if err != nil {
		t.Fatalf("verify at the rotation height: %v", err)
	}
	oldAddr := cmted25519.PubKey(joined.ValidatorKey).Address().String()
	if rep.Names[oldAddr] != "agency-5" {
		t.Fatalf("agency-5's former key %s is named %q; names %v", oldAddr, rep.Names[oldAddr], rep.Names)
	}
}
