package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/exitcode"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
	"github.com/civicledger/civicledger/portal"
)

const demoChainID = "civic-demo"

type demoOpts struct {
	home     string
	agencies int
	exit     bool
}

func newDemoCmd() *cobra.Command {
	o := &demoOpts{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "start a local network of agencies, record and verify sample records, keep serving until ctrl-c",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.agencies < 1 || o.agencies > 10 {
				return withExit(exitcode.Usage, errors.New("--agencies must be between 1 and 10"))
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.home, flagHome, ".ledger-demo", "directory for the agencies' fresh homes (replaced if it holds an earlier demo)")
	f.IntVar(&o.agencies, flagAgencies, 4, "number of agencies")
	f.BoolVar(&o.exit, "exit", false, "stop after the walkthrough; exit status 0 only if every step succeeded")
	return cmd
}

// demoNet is the demo's running network of child processes.
type demoNet struct {
	tn    *node.Testnet
	procs []*exec.Cmd
	done  []chan error
}

func runDemo(ctx context.Context, out io.Writer, o *demoOpts) error {
	home, err := filepath.Abs(o.home)
	if err != nil {
		return err
	}
	if err := resetDemoHome(home); err != nil {
		return err
	}
	fmt.Fprintf(out, "Civic Ledger demo: %d agencies, chain %s, homes in %s\n\n", o.agencies, demoChainID, home)
	tn, err := node.GenerateTestnet(node.TestnetOptions{
		Agencies: o.agencies, Output: home, ChainID: demoChainID, Fast: true,
		Keyring: keystore.BackendTest, ExtraOfficers: true,
	})
	if err != nil {
		return err
	}
	net := &demoNet{tn: tn}
	defer net.stop(out)
	if err := net.start(); err != nil {
		return err
	}
	for i, a := range tn.Agencies {
		fmt.Fprintf(out, "  started %-9s validator: pid %d  rpc %s  metrics %s  log %s\n", a.ID, net.procs[i].Process.Pid, a.RPC, a.Metrics, filepath.Join(a.Home, "node.log"))
	}
	stopPortal, wasmBuilt, err := startDemoPortal(ctx, out, tn, home, !o.exit)
	if err != nil {
		return err
	}
	defer stopPortal()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	err = net.waitReady(wctx)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	w := &walkthrough{out: out, tn: tn}
	w.run(ctx)
	fmt.Fprintf(out, "\n%d of %d steps succeeded.\n", w.passed, w.steps)
	if o.exit {
		// The network stops now: commands to try against it would fail.
		fmt.Fprintln(out, "The network stops now (--exit); run the demo without --exit to keep it running and try the ledger CLI against it.")
	} else {
		w.printCommands()
		select {
		case err := <-wasmBuilt:
			if err != nil {
				fmt.Fprintf(out, "\nThe portal's in-browser verifier could not be built (its pages say so): %v\nBuild it with `make wasm` and serve it with `ledgerd portal --wasm build/wasm`.\n", firstLine(err))
			} else {
				fmt.Fprintln(out, "\nThe portal's record and transaction pages verify their evidence in your browser (Verify in my browser).")
			}
		default:
			fmt.Fprintln(out, "\nThe portal's in-browser verifier is still being built (go build, about a minute the first time): its pages offer it once it is ready.")
		}
	}
	if w.passed != w.steps {
		return withExit(exitcode.Failed, fmt.Errorf("%d demo step(s) failed", w.steps-w.passed))
	}
	if o.exit {
		return nil
	}
	fmt.Fprintln(out, "\nThe network keeps running; press Ctrl-C to stop it.")
	return net.watch(ctx, out)
}

// startDemoPortal serves the public web portal on a free loopback port,
// reading agency-1's node with the other agencies' nodes as witnesses, and
// prints its address. With buildWasm (a demo that keeps running), it
// builds the portal's in-browser verifier with the local Go toolchain in
// the background (the pages offer it once built) and reports the build's
// outcome on the returned channel. The returned function stops both.
func startDemoPortal(ctx context.Context, out io.Writer, tn *node.Testnet, home string, buildWasm bool) (func(), <-chan error, error) {
	var witnesses []string
	for _, a := range tn.Agencies[1:] {
		witnesses = append(witnesses, a.RPC)
	}
	wasmDir := filepath.Join(home, "portal", "wasm")
	h, err := portal.New(portal.Options{Node: tn.Agencies[0].RPC, Witnesses: witnesses, GenesisFile: tn.Genesis,
		WasmDir: wasmDir, StateDir: filepath.Join(home, "portal", "state")})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("portal: %w", err)
	}
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Minute)
	built := make(chan error, 1)
	go func() {
		defer bcancel()
		if !buildWasm {
			built <- errors.New("not built: the demo stops after its walkthrough")
			return
		}
		built <- portal.BuildVerifier(bctx, "", "", wasmDir)
	}()
	fmt.Fprintf(out, "  started portal    http://%s  (the public web portal, reading %s's node)\n", ln.Addr(), tn.Agencies[0].ID)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = servePortal(pctx, ln, h, portal.DefaultTimeout)
	}()
	return func() { cancel(); bcancel(); <-done }, built, nil
}

// firstLine is the first line of an error's text.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// watch reports each node that exits while the others keep running, as
// agencies' nodes do: the chain goes on while more than 2/3 of the voting
// power runs, and halts (safely) with less. It returns when ctx ends, or
// with an error once every node has exited.
func (n *demoNet) watch(ctx context.Context, out io.Writer) error {
	exits := n.anyExit()
	total := len(n.procs)
	running := total
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-exits:
			running--
			if running == 0 {
				return fmt.Errorf("every node exited (the last: %v)", err)
			}
			note := "the chain goes on"
			if 3*running <= 2*total { // equal powers: more than 2/3 of the nodes is more than 2/3 of the power
				note = "fewer than 2/3 of the voting power runs: the chain halts, safely, until a node returns"
			}
			fmt.Fprintf(out, "node %v; %d of %d nodes keep running: %s (restart it with: ledgerd start --home %s)\n",
				err, running, total, note, n.homeOf(err))
		}
	}
}

// resetDemoHome removes an earlier demo (recognised by its testnet.json);
// any other non-empty directory is left alone.
func resetDemoHome(home string) error {
	entries, err := os.ReadDir(home)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(home, "testnet.json")); err != nil {
		return withExit(exitcode.Usage, fmt.Errorf("%s is not empty and holds no earlier demo: choose another --home", home))
	}
	return os.RemoveAll(home)
}

func (n *demoNet) start() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for _, a := range n.tn.Agencies {
		logf, err := os.Create(filepath.Join(a.Home, "node.log"))
		if err != nil {
			return err
		}
		cmd := exec.Command(exe, "start", "--home", a.Home)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = childAttr()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", a.ID, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait(); _ = logf.Close() }()
		n.procs = append(n.procs, cmd)
		n.done = append(n.done, done)
	}
	return nil
}

// nodeExit is a demo node that exited.
type nodeExit struct {
	agency, home string
	err          error
}

func (e *nodeExit) Error() string {
	if e.err == nil {
		return e.agency + " exited"
	}
	return fmt.Sprintf("%s exited (%v)", e.agency, e.err)
}

func (n *demoNet) anyExit() <-chan error {
	ch := make(chan error, len(n.done))
	for i, d := range n.done {
		go func() {
			err := <-d
			d <- err
			a := n.tn.Agencies[i]
			ch <- &nodeExit{agency: a.ID, home: a.Home, err: err}
		}()
	}
	return ch
}

func (n *demoNet) homeOf(err error) string {
	var ne *nodeExit
	if errors.As(err, &ne) {
		return ne.home
	}
	return "HOME"
}

func (n *demoNet) waitReady(ctx context.Context) error {
	for _, a := range n.tn.Agencies {
		c, err := client.New(a.RPC)
		if err != nil {
			return err
		}
		if err := c.WaitForHeight(ctx, 2); err != nil {
			return fmt.Errorf("%s did not start (see %s): %w", a.ID, filepath.Join(a.Home, "node.log"), err)
		}
	}
	return nil
}

func (n *demoNet) stop(out io.Writer) {
	for _, p := range n.procs {
		if p.Process != nil {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
	}
	for i, d := range n.done {
		select {
		case <-d:
		case <-time.After(15 * time.Second):
			_ = n.procs[i].Process.Kill()
			<-d
		}
	}
	if len(n.procs) > 0 {
		fmt.Fprintln(out, "network stopped.")
	}
}

// walkthrough records sample records through different agencies' nodes,
// reads them back from other nodes and checks their proofs.
type walkthrough struct {
	out           io.Writer
	tn            *node.Testnet
	steps, passed int
}

func (w *walkthrough) step(name string, fn func() (string, error)) bool {
	w.steps++
	detail, err := fn()
	if err != nil {
		fmt.Fprintf(w.out, "  FAIL  %s: %v\n", name, err)
		return false
	}
	w.passed++
	fmt.Fprintf(w.out, "  ok    %s", name)
	if detail != "" {
		fmt.Fprintf(w.out, " — %s", detail)
	}
	fmt.Fprintln(w.out)
	return true
}

func (w *walkthrough) agency(i int) node.AgencyHome { return w.tn.Agencies[i%len(w.tn.Agencies)] }

func (w *walkthrough) key(i int, name string) (ed25519.PrivateKey, error) {
	ks, err := keystore.Open(filepath.Join(w.agency(i).Home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	return ks.PrivKey(name)
}

// submit signs p as officers of agency i and sends it through agency i's node.
func (w *walkthrough) submit(ctx context.Context, i int, p ledger.Payload, officers ...string) (*client.TxResult, error) {
	a := w.agency(i)
	c, err := client.New(a.RPC)
	if err != nil {
		return nil, err
	}
	var keys []ed25519.PrivateKey
	for _, o := range officers {
		k, err := w.key(i, o)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	raw, err := c.BuildTx(ctx, client.Signer{Agency: a.ID, Keys: keys}, p, client.BuildOptions{})
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.Submit(tctx, raw, true)
}

func expectOK(res *client.TxResult, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if !res.OK() {
		return "", fmt.Errorf("rejected with code %d: %s", res.Code, res.Log)
	}
	return fmt.Sprintf("tx %s in block %d", res.Hash, res.Height), nil
}

func expectRejected(code ledger.Code) func(*client.TxResult, error) (string, error) {
	return func(res *client.TxResult, err error) (string, error) {
		if err != nil {
			return "", err
		}
		if res.Code != uint32(code) {
			return "", fmt.Errorf("expected code %d, got %d (%s)", code, res.Code, res.Log)
		}
		return fmt.Sprintf("rejected as expected, code %d: %s", res.Code, res.Log), nil
	}
}

const demoDoc = "3b5d3c7d207e37dceeedd301e35e2e58a1b4f4a3d1f0c2e7a9f1f8e5b6c4d2a1"

var demoRecipient = ledger.Party{Name: "Riverside Community Energy Ltd", Scheme: "GB-COH", ID: "09876543"}

func (w *walkthrough) run(ctx context.Context) {
	a1, a2 := w.agency(0).ID, w.agency(1).ID
	fmt.Fprintln(w.out, "Walkthrough:")
	w.step(fmt.Sprintf("%s awards grant G-2026-001 (250,000.00 EUR) to %s", a1, demoRecipient.Name), func() (string, error) {
		return expectOK(w.submit(ctx, 0, &ledger.GrantAward{
			ID: "G-2026-001", Recipient: demoRecipient, Programme: "Clean Energy Fund", Purpose: "Community solar array",
			Amount: "25000000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2027-12-31",
			DecisionDate: "2026-01-15", DocumentHash: demoDoc,
		}, "grants"))
	})
	w.step(fmt.Sprintf("%s records payment P-2026-001 (60,000.00 EUR) against it, approved by two finance officers", a1), func() (string, error) {
		return expectOK(w.submit(ctx, 0, &ledger.PaymentRecord{
			ID: "P-2026-001", Payee: demoRecipient, Amount: "6000000", Currency: "EUR", Date: "2026-02-01",
			Purpose: "First instalment", Grant: "G-2026-001",
		}, "finance", "finance2"))
	})
	w.step(fmt.Sprintf("%s issues licence L-2026-001 to Harbour Ferries plc", a2), func() (string, error) {
		return expectOK(w.submit(ctx, 1, &ledger.LicenceIssue{
			ID: "L-2026-001", Holder: ledger.Party{Name: "Harbour Ferries plc", Scheme: "GB-COH", ID: "01234567"},
			LicenceType: "passenger-ferry", Scope: "Harbour crossing, up to 200 passengers",
			ValidFrom: "2026-03-01", ValidUntil: "2031-02-28", DecisionDate: "2026-02-20", ConditionsHash: demoDoc,
		}, "licensing"))
	})
	w.step(fmt.Sprintf("%s records payment P-2026-002 (480,000 JPY) without a grant", w.agency(2).ID), func() (string, error) {
		return expectOK(w.submit(ctx, 2, &ledger.PaymentRecord{
			ID: "P-2026-002", Payee: ledger.Party{Name: "Kobe Translation KK", Scheme: "JP-CN", ID: "1234567890123"},
			Amount: "480000", Currency: "JPY", Date: "2026-02-03", Purpose: "Translation of public notices",
		}, "finance", "finance2"))
	})
	w.step("an over-payment of the grant is refused by the chain", func() (string, error) {
		return expectRejected(ledger.ErrOverpayment.Code)(w.submit(ctx, 0, &ledger.PaymentRecord{
			ID: "P-2026-003", Payee: demoRecipient, Amount: "20000000", Currency: "EUR", Date: "2026-02-10",
			Purpose: "Too much", Grant: "G-2026-001",
		}, "finance", "finance2"))
	})
	w.step("a large payment signed by one officer is refused (four-eyes rule)", func() (string, error) {
		return expectRejected(ledger.ErrFourEyes.Code)(w.submit(ctx, 0, &ledger.PaymentRecord{
			ID: "P-2026-004", Payee: demoRecipient, Amount: "5000000", Currency: "EUR", Date: "2026-02-10",
			Purpose: "Second instalment", Grant: "G-2026-001",
		}, "finance"))
	})
	w.step(fmt.Sprintf("an officer of %s cannot act for %s", a2, a1), func() (string, error) {
		c, err := client.New(w.agency(1).RPC)
		if err != nil {
			return "", err
		}
		k, err := w.key(1, "grants")
		if err != nil {
			return "", err
		}
		raw, err := c.BuildTx(ctx, client.Signer{Agency: a1, Keys: []ed25519.PrivateKey{k}}, &ledger.GrantRevoke{ID: "G-2026-001", Reason: "Hostile revoke", DocumentHash: demoDoc}, client.BuildOptions{})
		if err != nil {
			return "", err
		}
		return expectRejected(ledger.ErrNotOfficer.Code)(c.Submit(ctx, raw, true))
	})
	last := len(w.tn.Agencies) - 1
	w.step(fmt.Sprintf("%s's node serves grant G-2026-001 with disbursed 60,000.00 EUR", w.agency(last).ID), func() (string, error) {
		c, err := client.New(w.agency(last).RPC)
		if err != nil {
			return "", err
		}
		raw, h, err := c.Record(ctx, ledger.KindGrant, "G-2026-001", 0)
		if err != nil {
			return "", err
		}
		var g ledger.Grant
		if err := json.Unmarshal(raw, &g); err != nil {
			return "", err
		}
		if g.Disbursed != 6000000 || g.Payments != 1 || g.Status != ledger.GrantAwarded {
			return "", fmt.Errorf("unexpected grant state: %s", raw)
		}
		return fmt.Sprintf("height %d, status %s, disbursed %s of %s", h, g.Status,
			ledger.FormatMoney(int64(g.Disbursed), g.Currency), ledger.FormatMoney(int64(g.Awarded), g.Currency)), nil
	})
	for _, rec := range []struct {
		kind      ledger.Kind
		store, id string
	}{
		{ledger.KindGrant, ledger.StoreGrants, "G-2026-001"},
		{ledger.KindLicence, ledger.StoreLicences, "L-2026-001"},
		{ledger.KindPayment, ledger.StorePayments, "P-2026-003"},
	} {
		what := "present"
		if rec.id == "P-2026-003" {
			what = "absent (the refused payment)"
		}
		w.step(fmt.Sprintf("ICS23 proof of %s %s as %s checks against the AppHash of the next block", rec.kind, rec.id, what), func() (string, error) {
			return w.checkProof(ctx, rec.store, rec.id)
		})
	}
	w.step(fmt.Sprintf("%s proposes lowering the four-eyes threshold to 5,000.00 EUR; the agencies' admins vote, and with more than 2/3 of the power it passes into its public notice period", a1), func() (string, error) {
		return w.governance(ctx)
	})
	w.step("every agency's node has the same AppHash", func() (string, error) {
		return w.sameAppHash(ctx)
	})
	w.step(fmt.Sprintf("history of grant G-2026-001 from the %s node's tx index", w.agency(1).ID), func() (string, error) {
		c, err := client.New(w.agency(1).RPC)
		if err != nil {
			return "", err
		}
		hist, err := c.History(ctx, ledger.KindGrant, "G-2026-001")
		if err != nil {
			return "", err
		}
		var acts []string
		for _, h := range hist {
			acts = append(acts, fmt.Sprintf("%s@%d", h.Action, h.Height))
		}
		if len(hist) < 2 {
			return "", fmt.Errorf("expected award and disbursement, got %v", acts)
		}
		return strings.Join(acts, ", "), nil
	})
}

// governance runs a params-change proposal through the vote: agency 1
// proposes, agencies 1 and 2 vote yes (half the power: still voting), a third
// yes passes it into the notice period.
func (w *walkthrough) governance(ctx context.Context) (string, error) {
	c, err := client.New(w.agency(0).RPC)
	if err != nil {
		return "", err
	}
	res, err := c.Query(ctx, ledger.QueryParams, nil, 0, false)
	if err != nil {
		return "", err
	}
	var params ledger.Params
	if err := json.Unmarshal(res.Value, &params); err != nil {
		return "", err
	}
	params.FourEyesThreshold = 500000
	r, err := w.submit(ctx, 0, &ledger.GovPropose{
		Kind: ledger.ProposalParamsChange, Title: "Lower the four-eyes threshold to 5,000.00 EUR",
		LegalBasis: "Public Finance Regulations 2026, reg. 14(2)", DocumentHash: demoDoc, Params: &params,
	}, "admin")
	if _, err := expectOK(r, err); err != nil {
		return "", fmt.Errorf("propose: %w", err)
	}
	var id uint64
	for _, ev := range r.Events {
		for _, at := range ev.Attributes {
			if ev.Type == ledger.EventProposal && at.Key == ledger.AttrID {
				id, _ = strconv.ParseUint(at.Value, 10, 64)
			}
		}
	}
	if id == 0 {
		return "", errors.New("no proposal id in the tx events")
	}
	// status reads the proposal from agency-1's node as of the block that
	// holds a vote: the vote went to another agency's node, which may have
	// committed that block before agency-1's did.
	status := func(height int64) (*ledger.Proposal, error) {
		if err := c.WaitForState(ctx, height); err != nil {
			return nil, err
		}
		p, _, _, err := c.Proposal(ctx, id, height)
		return p, err
	}
	var p *ledger.Proposal
	for i := 0; i < 3 && i < len(w.tn.Agencies); i++ {
		vr, err := w.submit(ctx, i, &ledger.GovVote{Proposal: id, Option: ledger.VoteYes}, "admin")
		if _, err := expectOK(vr, err); err != nil {
			return "", fmt.Errorf("vote of %s: %w", w.agency(i).ID, err)
		}
		if p, err = status(vr.Height); err != nil {
			return "", err
		}
		if want := i < 1 || !p.Tally.Passes(); want && p.Status != ledger.ProposalVoting {
			return "", fmt.Errorf("after %d yes votes: status %s", i+1, p.Status)
		}
	}
	if p.Status != ledger.ProposalNotice {
		return "", fmt.Errorf("proposal %d is %s after 3 yes votes of %d agencies, want notice", id, p.Status, len(w.tn.Agencies))
	}
	return fmt.Sprintf("proposal %d: yes %d of %d, takes effect at height %d", id, p.Tally.Yes, p.Tally.Total, p.Effective), nil
}

// checkProof fetches a key with its proof from one node and the header of
// the next block from another, and verifies the ICS23 proof chain.
func (w *walkthrough) checkProof(ctx context.Context, store, id string) (string, error) {
	c, err := client.New(w.agency(0).RPC)
	if err != nil {
		return "", err
	}
	res, err := c.Query(ctx, ledger.QueryStoreKey(store), []byte(id), 0, true)
	if err != nil {
		return "", err
	}
	if res.Code != 0 || res.ProofOps == nil {
		return "", fmt.Errorf("query failed: code %d %s", res.Code, res.Log)
	}
	other, err := client.New(w.agency(len(w.tn.Agencies) - 1).RPC)
	if err != nil {
		return "", err
	}
	next := res.Height + 1
	if err := other.WaitForHeight(ctx, next); err != nil {
		return "", err
	}
	blk, err := other.RPC().Block(ctx, &next)
	if err != nil {
		return "", err
	}
	if _, err := verify.StoreValue(blk.Block.AppHash, store, []byte(id), res.Value, res.ProofOps.Ops); err != nil {
		return "", err
	}
	return fmt.Sprintf("height %d, AppHash %X…", res.Height, []byte(blk.Block.AppHash)[:8]), nil
}

// sameAppHash asks every node for the AppHash of its own state at one
// height (computed from the proofs it serves, not read from the agreed
// block header) and checks that they are all equal.
func (w *walkthrough) sameAppHash(ctx context.Context) (string, error) {
	var h int64 = 1 << 62
	cs := make([]*client.Client, len(w.tn.Agencies))
	for i, a := range w.tn.Agencies {
		c, err := client.New(a.RPC)
		if err != nil {
			return "", err
		}
		st, err := c.Status(ctx)
		if err != nil {
			return "", err
		}
		h = min(h, st.SyncInfo.LatestBlockHeight)
		cs[i] = c
	}
	var first []byte
	for i, c := range cs {
		got, err := c.StateAppHash(ctx, h)
		if err != nil {
			return "", fmt.Errorf("%s: %w", w.tn.Agencies[i].ID, err)
		}
		if i == 0 {
			first = got
		} else if !bytes.Equal(first, got) {
			return "", fmt.Errorf("%s's state has AppHash %X at height %d, %s's %X", w.tn.Agencies[0].ID, first, h, w.tn.Agencies[i].ID, got)
		}
	}
	return fmt.Sprintf("height %d, AppHash %X…", h, first[:8]), nil
}

func (w *walkthrough) printCommands() {
	a1 := w.agency(0)
	last := w.agency(len(w.tn.Agencies) - 1)
	fmt.Fprintf(w.out, `
Try it yourself (from this directory):
  go run ./cmd/ledger --node %[1]s query grant G-2026-001 --history
  go run ./cmd/ledger --node %[1]s query grants --agency %[2]s
  go run ./cmd/ledger --node %[1]s query payments --grant G-2026-001
  go run ./cmd/ledger --node %[3]s query licence L-2026-001 -o json
  go run ./cmd/ledger --node %[1]s query totals %[2]s EUR
  go run ./cmd/ledger --home %[9]s --node %[1]s trust init --genesis %[10]s
  go run ./cmd/ledger --home %[9]s --node %[1]s verify grant G-2026-001 --witness %[3]s
  go run ./cmd/ledger --home %[9]s --node %[1]s verify payment P-2026-003 --witness %[3]s
  go run ./cmd/ledger --home %[9]s --node %[1]s proof export grant G-2026-001 -o grant-evidence.json
  go run ./cmd/ledger --home %[9]s verify bundle grant-evidence.json --genesis %[10]s
  go run ./cmd/ledger --home %[4]s --keyring-backend test --node %[1]s tx payment record \
      --from finance --id P-2026-010 --payee-name "%[5]s" --payee-scheme %[6]s --payee-id %[7]s \
      --amount "9000.00 EUR" --date 2026-03-01 --purpose "Second instalment" --grant G-2026-001
  go run ./cmd/ledger --node %[1]s query proposals --status notice
  go run ./cmd/ledger --node %[1]s query proposal 1
  curl -s %[8]s | grep -c cometbft_
  (cd %[11]s && prometheus --config.file=%[12]s)    # scrapes every node, with the production alerts
`, last.RPC, a1.ID, a1.RPC, a1.Home, demoRecipient.Name, demoRecipient.Scheme, demoRecipient.ID, a1.Metrics,
		filepath.Join(filepath.Dir(a1.Home), "journalist"), w.tn.Genesis, filepath.Dir(a1.Home), node.PrometheusConfigFile)
}
