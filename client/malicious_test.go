package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cmtcrypto "github.com/cometbft/cometbft/crypto"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
)

// liar is a malicious node: a JSON-RPC proxy in front of a real one that
// rewrites what it chooses. Every hook is optional.
type liar struct {
	*httptest.Server
	mu sync.Mutex
	// latest overrides the latest height in /status (0: the real one).
	latest int64
	// blocks are forged light blocks served by /commit and /validators.
	blocks map[int64]*cmttypes.LightBlock
	// queryAt maps a queried height to the real height whose answer is
	// served instead (with the asked height written in).
	queryAt map[int64]int64
}

func newLiar(t *testing.T, upstream string) *liar {
	l := &liar{blocks: map[int64]*cmttypes.LightBlock{}, queryAt: map[int64]int64{}}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			ID     json.RawMessage            `json:"id"`
			Method string                     `json:"method"`
			Params map[string]json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		height := func() int64 {
			var s string
			if json.Unmarshal(req.Params["height"], &s) != nil {
				return 0
			}
			h, _ := strconv.ParseInt(s, 10, 64)
			return h
		}
		reply := func(result any) {
			bz, err := cmtjson.Marshal(result)
			if err != nil {
				t.Errorf("liar: %v", err)
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": json.RawMessage(bz)})
		}
		asked := height()
		l.mu.Lock()
		forged := l.blocks[asked]
		realH, rewriteQuery := l.queryAt[asked]
		latest := l.latest
		l.mu.Unlock()
		switch {
		case req.Method == "commit" && forged != nil:
			reply(&ctypes.ResultCommit{SignedHeader: *forged.SignedHeader, CanonicalCommit: true})
			return
		case req.Method == "validators" && forged != nil:
			n := len(forged.ValidatorSet.Validators)
			reply(&ctypes.ResultValidators{BlockHeight: forged.Height, Validators: forged.ValidatorSet.Validators, Count: n, Total: n})
			return
		case req.Method == "abci_query" && rewriteQuery:
			req.Params["height"], _ = json.Marshal(strconv.FormatInt(realH, 10))
			body, _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID, "method": req.Method, "params": req.Params})
		}
		resp, err := http.Post(upstream, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(out, &env) == nil && len(env.Result) > 0 {
			switch {
			case req.Method == "status" && latest > 0:
				var st ctypes.ResultStatus
				if err := cmtjson.Unmarshal(env.Result, &st); err == nil {
					st.SyncInfo.LatestBlockHeight = latest
					reply(&st)
					return
				}
			case req.Method == "abci_query" && rewriteQuery:
				var q ctypes.ResultABCIQuery
				if err := cmtjson.Unmarshal(env.Result, &q); err == nil {
					q.Response.Height = asked
					reply(&q)
					return
				}
			}
		}
		_, _ = w.Write(out)
	}))
	t.Cleanup(l.Close)
	return l
}

// validatorKey reads an agency's validator private key from its home.
func validatorKey(t *testing.T, home string) cmtcrypto.PrivKey {
	t.Helper()
	bz, err := os.ReadFile(filepath.Join(home, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		PrivKey cmtcrypto.PrivKey `json:"priv_key"`
	}
	if err := cmtjson.Unmarshal(bz, &f); err != nil {
		t.Fatal(err)
	}
	return f.PrivKey
}

// forgeBlock signs a copy of hdr at height h, with appHash, for a validator
// set made of keys alone, with those keys: what a coalition of validator
// keys — two retired agencies', say — can make without anyone else.
func forgeBlock(t *testing.T, chainID string, hdr cmttypes.Header, h int64, appHash []byte, keys []cmtcrypto.PrivKey) *cmttypes.LightBlock {
	t.Helper()
	vals := make([]*cmttypes.Validator, len(keys))
	for i, k := range keys {
		vals[i] = cmttypes.NewValidator(k.PubKey(), 10)
	}
	set := cmttypes.NewValidatorSet(vals)
	hdr.Height, hdr.AppHash, hdr.Time = h, appHash, time.Now().Add(-time.Second)
	hdr.ValidatorsHash, hdr.NextValidatorsHash, hdr.ProposerAddress = set.Hash(), set.Hash(), set.Validators[0].Address
	id := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{0xF0}, 32)}}
	commit := &cmttypes.Commit{Height: h, BlockID: id, Signatures: make([]cmttypes.CommitSig, set.Size())}
	for _, k := range keys {
		idx, _ := set.GetByAddress(k.PubKey().Address())
		commit.Signatures[idx] = cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagCommit, ValidatorAddress: k.PubKey().Address(), Timestamp: hdr.Time}
	}
	for _, k := range keys {
		idx, _ := set.GetByAddress(k.PubKey().Address())
		sig, err := k.Sign(commit.VoteSignBytes(chainID, idx))
		if err != nil {
			t.Fatal(err)
		}
		commit.Signatures[idx].Signature = sig
	}
	lb := &cmttypes.LightBlock{SignedHeader: &cmttypes.SignedHeader{Header: &hdr, Commit: commit}, ValidatorSet: set}
	if err := lb.ValidateBasic(chainID); err != nil {
		t.Fatal(err)
	}
	return lb
}

// TestMaliciousPrimary runs the verifier against a node that lies, with
// nothing but the genesis trust root (no witness, as a journalist who
// forgot --witness would): a header forged by two of the four validator keys
// (more than the 1/3 CometBFT's skipping rule asks) over a validator set of
// their own, claiming an early state in which a grant does not exist; a
// latest height older than one verified before; blocks hidden from a
// witness's view; and witnesses that are the primary under another name.
func TestMaliciousPrimary(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: 4, ExtraOfficers: true, ChainID: "civic-liar"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, _ := client.New(a[0].RPC)
	ks, _ := keystore.Open(net.KeyDir(0), keystore.BackendTest, nil)
	k, _ := ks.PrivKey("grants")
	raw, err := c.BuildTx(ctx, client.Signer{Agency: a[0].ID, Keys: []ed25519.PrivateKey{k}}, &ledger.GrantAward{
		ID: "G-LIAR", Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
		Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
		DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, client.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Submit(ctx, raw, true)
	if err != nil || !res.OK() {
		t.Fatalf("%v %+v", err, res)
	}
	if err := c.WaitForHeight(ctx, res.Height+2); err != nil {
		t.Fatal(err)
	}
	newVerifier := func(t *testing.T, home, primary string, witnesses ...string) *client.Verifier {
		t.Helper()
		v, err := client.NewVerifier(ctx, home, primary, witnesses)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	trusted := func(t *testing.T) string {
		home := t.TempDir()
		if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
			t.Fatal(err)
		}
		return home
	}

	t.Run("forged header by two of four keys", func(t *testing.T) {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		real := st.SyncInfo.LatestBlockHeight
		tmpl, err := c.RPC().Commit(ctx, &real)
		if err != nil {
			t.Fatal(err)
		}
		early, err := client.New(a[0].RPC)
		if err != nil {
			t.Fatal(err)
		}
		h2 := int64(2)
		hdr2, err := early.RPC().Commit(ctx, &h2)
		if err != nil {
			t.Fatal(err)
		}
		// Header F commits (it claims) the state after block F-1; it is
		// really header 2's AppHash: the state after block 1, before the
		// grant. The lie: "G-LIAR does not exist".
		f := real + 50
		forged := forgeBlock(t, net.Testnet.ChainID, *tmpl.Header, f, hdr2.AppHash,
			[]cmtcrypto.PrivKey{validatorKey(t, a[2].Home), validatorKey(t, a[3].Home)})
		l := newLiar(t, a[0].RPC)
		l.latest, l.blocks[f], l.queryAt[f-1] = f, forged, 1

		for name, height := range map[string]int64{"latest": 0, "explicit height": f - 1} {
			t.Run(name, func(t *testing.T) {
				v := newVerifier(t, trusted(t), l.URL)
				kp, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-LIAR"), height)
				if err == nil {
					t.Fatalf("forged header accepted: G-LIAR present=%v at %d", kp.Present, kp.Height)
				}
				if !errors.Is(err, verify.ErrHeader) || !strings.Contains(err.Error(), "never skipped across") {
					t.Fatalf("refused for the wrong reason: %v", err)
				}
				t.Logf("refused: %v", err)
			})
		}
		// The same lie signed by the same two keys over the real set
		// (whose hash the header then names) lacks 2/3 of its power.
		vals, err := c.RPC().Validators(ctx, &real, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		set := cmttypes.NewValidatorSet(vals.Validators)
		forged.ValidatorSet = set
		forged.ValidatorsHash, forged.NextValidatorsHash = set.Hash(), set.Hash()
		forged.Commit.BlockID.Hash = forged.Header.Hash()
		two := forged.Commit.Signatures
		forged.Commit.Signatures = make([]cmttypes.CommitSig, set.Size())
		for i := range forged.Commit.Signatures {
			forged.Commit.Signatures[i] = cmttypes.NewCommitSigAbsent()
		}
		for _, key := range []cmtcrypto.PrivKey{validatorKey(t, a[2].Home), validatorKey(t, a[3].Home)} {
			idx, _ := set.GetByAddress(key.PubKey().Address())
			forged.Commit.Signatures[idx] = cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagCommit, ValidatorAddress: key.PubKey().Address(), Timestamp: two[0].Timestamp}
			sig, _ := key.Sign(forged.Commit.VoteSignBytes(net.Testnet.ChainID, idx))
			forged.Commit.Signatures[idx].Signature = sig
		}
		v := newVerifier(t, trusted(t), l.URL)
		if _, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-LIAR"), 0); err == nil || !strings.Contains(err.Error(), "2/3") {
			t.Fatalf("forgery over the real set: %v", err)
		}
	})

	t.Run("latest older than verified before", func(t *testing.T) {
		home := trusted(t)
		v := newVerifier(t, home, a[0].RPC)
		kp, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-LIAR"), 0)
		if err != nil || !kp.Present {
			t.Fatalf("%v %+v", err, kp)
		}
		last := v.Trust.LastVerified.Height
		// A node stuck (or pretending to be) at the state before the grant.
		l := newLiar(t, a[0].RPC)
		l.latest = res.Height
		v = newVerifier(t, home, l.URL)
		kp, err = v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-LIAR"), 0)
		if !errors.Is(err, client.ErrOlderThanVerified) {
			t.Fatalf("old state served as the latest: %v %+v", err, kp)
		}
		// Asked for by height, the old state verifies (and the grant is
		// absent there); the last verified header does not move back.
		kp, err = v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-LIAR"), res.Height-1)
		if err != nil || kp.Present {
			t.Fatalf("explicit old height: %v %+v", err, kp)
		}
		if got := v.Trust.LastVerified.Height; got != last {
			t.Fatalf("last verified moved from %d to %d", last, got)
		}
	})

	t.Run("latest is the highest of primary and witnesses", func(t *testing.T) {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The primary hides every block after the current one; the witness
		// has more of them soon.
		l := newLiar(t, a[0].RPC)
		l.latest = st.SyncInfo.LatestBlockHeight
		if err := c.WaitForHeight(ctx, l.latest+2); err != nil {
			t.Fatal(err)
		}
		v := newVerifier(t, trusted(t), l.URL, a[1].RPC)
		if latest, from, err := v.LatestHeight(ctx); err != nil || latest <= l.latest || from != a[1].RPC {
			t.Fatalf("latest %d from %s (%v), the primary says %d", latest, from, err, l.latest)
		}
		if _, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-LIAR"), 0); !errors.Is(err, client.ErrPrimaryBehind) {
			t.Fatalf("a primary hiding blocks: %v", err)
		}
	})

	t.Run("the primary as its own witness", func(t *testing.T) {
		other := strings.Replace(a[0].RPC, "127.0.0.1", "localhost", 1)
		for _, w := range []string{a[0].RPC, a[0].RPC + "/", strings.TrimPrefix(a[0].RPC, "http://"), other} {
			v := newVerifier(t, trusted(t), a[0].RPC, w)
			if !v.NoIndependentWitness || len(v.Witnesses) != 0 || len(v.NotWitnesses) != 1 || !strings.Contains(v.NotWitnesses[0].Detail, "primary node itself") {
				t.Errorf("witness %s: independent %v, witnesses %v, set aside %+v", w, !v.NoIndependentWitness, v.Witnesses, v.NotWitnesses)
			}
		}
		// With an independent witness beside it, only that one counts.
		v := newVerifier(t, trusted(t), a[0].RPC, other, a[1].RPC)
		if v.NoIndependentWitness || len(v.Witnesses) != 1 || v.Witnesses[0] != a[1].RPC {
			t.Fatalf("witnesses %v", v.Witnesses)
		}
		r, err := v.VerifyKeyReport(ctx, ledger.StoreGrants, []byte("G-LIAR"), 0)
		if err != nil {
			t.Fatal(err)
		}
		last := r.Steps[len(r.Steps)-1]
		if last.Name != client.StepWitnesses || !strings.Contains(last.Detail, "1 of 1 independent witnesses") {
			t.Fatalf("witness step %+v", last)
		}
	})
}
