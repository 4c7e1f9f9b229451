package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtprotoversion "github.com/cometbft/cometbft/proto/tendermint/version"
	cmttypes "github.com/cometbft/cometbft/types"
	cmtversion "github.com/cometbft/cometbft/version"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/ledger/verify"
)

// fixture is a synthetic chain, built without a node: 7 blocks whose
// AppHashes are those of a real multistore, signed by validator set A up to
// height 3 and by a wholly different set B from height 4 (header 3 announces
// B), so that a bundle must carry headers 3 and 4 to cross the change. Block
// 2 holds four txs: junk, a grant award by an officer of agency-1 (code 0),
// one by a stranger (rejected, code 7), and one by a newcomer whose
// officer-add went into the same block before it (code 0: its result
// carries agency-1's record as the chain authorized it); junk is rejected
// with code 2. Successful txs' results commit the digest of the record they
// were authorized with (ledger.ResultData).
type fixture struct {
	chainID    string
	genesis    *cmttypes.GenesisDoc
	genesisSum string
	blocks     map[int64]*cmttypes.LightBlock
	views      map[int64]*store.View
	txs        cmttypes.Txs // block 2
	results    []*abci.ExecTxResult
	txs1       cmttypes.Txs // block 1
	results1   []*abci.ExecTxResult
	appHashes  map[int64][]byte
	t0         time.Time
}

const unitChain = "civic-unit"

func keysFrom(prefix string, n int) []cmted25519.PrivKey {
	out := make([]cmted25519.PrivKey, n)
	for i := range out {
		out[i] = cmted25519.GenPrivKeyFromSecret([]byte(fmt.Sprintf("%s-%d", prefix, i)))
	}
	return out
}

func valSet(t testing.TB, keys []cmted25519.PrivKey) *cmttypes.ValidatorSet {
	t.Helper()
	vals := make([]*cmttypes.Validator, len(keys))
	for i, k := range keys {
		vals[i] = cmttypes.NewValidator(k.PubKey(), 10)
	}
	return cmttypes.NewValidatorSet(vals)
}

func genesisOf(t testing.TB, chainID string, keys []cmted25519.PrivKey, t0 time.Time, agencies ...ledger.Agency) (*cmttypes.GenesisDoc, string) {
	t.Helper()
	doc := &cmttypes.GenesisDoc{ChainID: chainID, GenesisTime: t0, InitialHeight: 1}
	doc.AppState, _ = json.Marshal(ledger.GenesisState{Agencies: agencies})
	for i, k := range keys {
		doc.Validators = append(doc.Validators, cmttypes.GenesisValidator{
			Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 10, Name: fmt.Sprintf("agency-%d", i+1)})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		t.Fatal(err)
	}
	bz, err := cmtjson.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bz)
	return doc, hex.EncodeToString(sum[:])
}

func signedTx(t testing.TB, key ed25519.PrivateKey, id string) []byte {
	t.Helper()
	body, err := ledger.NewBody(unitChain, "agency-1", key.Public().(ed25519.PublicKey), 7, 100, &ledger.GrantAward{
		ID: id, Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
		Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
		DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ledger.SignTx(body, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{chainID: unitChain, blocks: map[int64]*cmttypes.LightBlock{}, views: map[int64]*store.View{},
		appHashes: map[int64][]byte{}, t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	keysA, keysB := keysFrom("a", 4), keysFrom("b", 4)
	setA, setB := valSet(t, keysA), valSet(t, keysB)

	officer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	agency1 := ledger.Agency{ID: "agency-1", Name: "Agency One", Jurisdiction: "X",
		ValidatorKey: keysA[0].PubKey().Bytes(), Power: 10,
		Officers: []ledger.Officer{{Key: officer.Public().(ed25519.PublicKey), Name: "grants", Roles: []ledger.Role{ledger.RoleGrants}}}}
	f.genesis, f.genesisSum = genesisOf(t, f.chainID, keysA, f.t0, agency1)
	newcomer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	joined := agency1
	joined.Officers = append(slices.Clone(agency1.Officers), ledger.Officer{Key: newcomer.Public().(ed25519.PublicKey), Name: "R&D <grants>", Roles: []ledger.Role{ledger.RoleGrants}})
	stored, _ := json.Marshal(agency1) // agency-1 at state version 1
	genesisValue, _ := ledger.AgencyValue(&agency1)
	joinedValue, _ := ledger.AgencyValue(&joined)
	f.txs = cmttypes.Txs{[]byte("junk"), signedTx(t, officer, "G-1"), signedTx(t, stranger, "G-X"), signedTx(t, newcomer, "G-N")}
	f.results = []*abci.ExecTxResult{{Code: 2, Log: "malformed"}, {Code: 0, Data: authData(t, stored, false)}, {Code: 7, Log: "not an officer"},
		{Code: 0, Data: authData(t, joinedValue, true)}}
	f.txs1 = cmttypes.Txs{signedTx(t, officer, "G-0")}
	f.results1 = []*abci.ExecTxResult{{Code: 0, Data: authData(t, genesisValue, false)}}

	// State versions 1..6; header h commits version h-1.
	m, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 6; v++ {
		switch v {
		case 1:
			for _, s := range ledger.StoreNames {
				_ = m.Set(s, ledger.SeedKey, []byte("1"))
			}
			ag, _ := json.Marshal(agency1)
			_ = m.Set(ledger.StoreAgencies, []byte("agency-1"), ag)
		case 2:
			_ = m.Set(ledger.StoreMeta, ledger.TotalsKey("agency-1", "EUR"), []byte(`{"agency":"agency-1","currency":"EUR"}`))
			_ = m.Set(ledger.StoreGrants, []byte("G-2"), []byte(`{"id":"G-2"}`))
		}
		_ = m.Set(ledger.StoreGrants, []byte("G-1"), fmt.Appendf(nil, `{"id":"G-1","version":%d}`, v))
		h, ver, err := m.Commit()
		if err != nil || ver != v {
			t.Fatalf("commit %d: %v %d", v, err, ver)
		}
		f.appHashes[v] = h
		if f.views[v], err = m.At(v); err != nil {
			t.Fatal(err)
		}
	}

	setAt := func(h int64) (*cmttypes.ValidatorSet, []cmted25519.PrivKey) {
		if h <= 3 {
			return setA, keysA
		}
		return setB, keysB
	}
	var lastID cmttypes.BlockID
	var lastCommit *cmttypes.Commit
	for h := int64(1); h <= 7; h++ {
		vals, keys := setAt(h)
		next, _ := setAt(h + 1)
		hdr := &cmttypes.Header{
			Version: cmtprotoversion.Consensus{Block: cmtversion.BlockProtocol, App: 1},
			ChainID: f.chainID, Height: h, Time: f.t0.Add(time.Duration(h) * time.Second),
			LastBlockID: lastID, ValidatorsHash: vals.Hash(), NextValidatorsHash: next.Hash(),
			ConsensusHash: bytes.Repeat([]byte{9}, 32), EvidenceHash: cmttypes.EvidenceList{}.Hash(),
			DataHash: cmttypes.Txs{}.Hash(), LastResultsHash: cmttypes.NewResults(nil).Hash(),
			ProposerAddress: vals.Validators[0].Address,
		}
		if lastCommit != nil {
			hdr.LastCommitHash = lastCommit.Hash()
		}
		if h == 1 {
			hdr.AppHash = bytes.Repeat([]byte{7}, 32)
		} else {
			hdr.AppHash = f.appHashes[h-1]
		}
		switch h {
		case 1:
			hdr.DataHash = f.txs1.Hash()
		case 2:
			hdr.DataHash = f.txs.Hash()
			hdr.LastResultsHash = cmttypes.NewResults(f.results1).Hash()
		case 3:
			hdr.LastResultsHash = cmttypes.NewResults(f.results).Hash()
		}
		id := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{byte(h)}, 32)}}
		pvs := make([]cmttypes.PrivValidator, len(keys))
		for i, v := range vals.Validators {
			for _, k := range keys {
				if bytes.Equal(k.PubKey().Address(), v.Address) {
					pvs[i] = cmttypes.NewMockPVWithParams(k, false, false)
				}
			}
		}
		vs := cmttypes.NewVoteSet(f.chainID, h, 0, cmtproto.PrecommitType, vals)
		ext, err := cmttypes.MakeExtCommit(id, h, 0, vs, pvs, hdr.Time, false)
		if err != nil {
			t.Fatal(err)
		}
		commit := ext.ToCommit()
		f.blocks[h] = &cmttypes.LightBlock{SignedHeader: &cmttypes.SignedHeader{Header: hdr, Commit: commit}, ValidatorSet: vals.Copy()}
		lastID, lastCommit = id, commit
	}
	return f
}

// authData is the result data of a tx of agency-1 authorized with the
// stored record value, carrying the record if withRecord.
func authData(t testing.TB, value []byte, withRecord bool) []byte {
	t.Helper()
	a := &ledger.TxAuth{Agency: "agency-1", RecordSHA256: ledger.RecordDigest(value)}
	if withRecord {
		a.Record = value
	}
	d, err := json.Marshal(ledger.ResultData{Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) query(t testing.TB, st string, key []byte, v int64) *verify.ABCIQuery {
	t.Helper()
	value, ops := proofOps(t, f.views[v], st, string(key))
	return &verify.ABCIQuery{Response: abci.ResponseQuery{Key: key, Value: value, Height: v, ProofOps: &cmtcrypto.ProofOps{Ops: ops}}}
}

func (f *fixture) lightBlocks(heights ...int64) []*cmttypes.LightBlock {
	out := make([]*cmttypes.LightBlock, len(heights))
	for i, h := range heights {
		out[i] = f.blocks[h]
	}
	return out
}

func (f *fixture) recordBundle(t testing.TB, kind, id string, h int64) *verify.Bundle {
	t.Helper()
	st, key, err := verify.RecordLocation(kind, id)
	if err != nil {
		t.Fatal(err)
	}
	var lbs []int64
	for i := int64(1); i <= h+1; i++ {
		lbs = append(lbs, i)
	}
	return &verify.Bundle{
		Manifest: verify.Manifest{Format: 1, Kind: kind, ID: id, Store: st, Key: string(key), ChainID: f.chainID,
			GenesisSHA256: f.genesisSum, Height: h, Created: f.t0.Format(time.RFC3339), Tool: "test"},
		LightBlocks: f.lightBlocks(lbs...),
		Query:       f.query(t, st, key, h),
	}
}

func (f *fixture) txBundle(t testing.TB, index uint32) *verify.Bundle {
	t.Helper()
	tx := f.txs[index]
	return &verify.Bundle{
		Manifest: verify.Manifest{Format: 1, Kind: "tx", ID: fmt.Sprintf("%X", tx.Hash()), ChainID: f.chainID,
			GenesisSHA256: f.genesisSum, Height: 2},
		LightBlocks:  f.lightBlocks(1, 2, 3),
		Tx:           &verify.TxResponse{Hash: tx.Hash(), Height: 2, Index: index, TxResult: *f.results[index], Tx: tx, Proof: f.txs.Proof(int(index))},
		BlockResults: &verify.BlockResults{Height: 2, TxsResults: f.results, AppHash: f.appHashes[2]},
		AgencyQuery:  f.query(t, ledger.StoreAgencies, []byte("agency-1"), 1),
	}
}

// firstBlockTxBundle is the bundle of the tx of block 1: no agency_query
// (the genesis file has the agency).
func (f *fixture) firstBlockTxBundle() *verify.Bundle {
	tx := f.txs1[0]
	return &verify.Bundle{
		Manifest: verify.Manifest{Format: 1, Kind: "tx", ID: fmt.Sprintf("%X", tx.Hash()), ChainID: f.chainID,
			GenesisSHA256: f.genesisSum, Height: 1},
		LightBlocks:  f.lightBlocks(1, 2),
		Tx:           &verify.TxResponse{Hash: tx.Hash(), Height: 1, Index: 0, TxResult: *f.results1[0], Tx: tx, Proof: f.txs1.Proof(0)},
		BlockResults: &verify.BlockResults{Height: 1, TxsResults: f.results1, AppHash: f.appHashes[1]},
	}
}

// roundTrip writes a bundle to JSON and reads it back, as a file would.
func roundTrip(t testing.TB, b *verify.Bundle) *verify.Bundle {
	t.Helper()
	bz, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := verify.ParseBundle(bz)
	if err != nil {
		t.Fatalf("%v\n%s", err, bz)
	}
	return out
}

func (f *fixture) now() time.Time { return f.t0.Add(time.Hour) }

func TestBundleVerifies(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name    string
		b       *verify.Bundle
		outcome string
	}{
		{"grant", f.recordBundle(t, "grant", "G-1", 5), "VERIFIED"},
		{"absent grant", f.recordBundle(t, "grant", "G-404", 5), "VERIFIED ABSENT"},
		{"total", f.recordBundle(t, "total", "agency-1/EUR", 2), "VERIFIED"},
		{"agency", f.recordBundle(t, "agency", "agency-1", 1), "VERIFIED"},
		{"tx", f.txBundle(t, 1), "VERIFIED"},
		{"rejected tx", f.txBundle(t, 2), "VERIFIED"},
		{"tx of the first block", f.firstBlockTxBundle(), "VERIFIED"},
		{"rejected junk", func() *verify.Bundle { b := f.txBundle(t, 0); b.AgencyQuery = nil; return b }(), "VERIFIED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := verify.VerifyBundle(roundTrip(t, c.b), f.genesis, f.genesisSum, f.now())
			if err != nil {
				t.Fatalf("valid bundle rejected: %v\n%+v", err, rep)
			}
			if rep.Outcome != c.outcome {
				t.Fatalf("outcome %q, want %q", rep.Outcome, c.outcome)
			}
			for _, h := range rep.Headers {
				if len(h.Signers) != 4 {
					t.Errorf("header %d: %d signers", h.Height, len(h.Signers))
				}
			}
			t.Logf("%s: %+v", c.name, rep.Steps)
		})
	}
	rep, _ := verify.VerifyBundle(f.recordBundle(t, "grant", "G-1", 5), f.genesis, f.genesisSum, f.now())
	if !rep.Present || !strings.Contains(string(rep.Value), `"version":5`) || rep.Headers[0].Height != 6 {
		t.Errorf("report: %+v", rep)
	}
	if rep.Headers[0].Signers[0].Name != "" {
		t.Errorf("set B is not in the genesis, yet a signer is named %q", rep.Headers[0].Signers[0].Name)
	}
	rep, _ = verify.VerifyBundle(f.txBundle(t, 1), f.genesis, f.genesisSum, f.now())
	if rep.Tx == nil || rep.Tx.Code != 0 || len(rep.Tx.Signers) != 1 || rep.Tx.Signers[0].Name != "grants" || rep.Tx.Agency != "agency-1" || rep.Tx.Type != "grant/award" {
		t.Errorf("tx report: %+v", rep.Tx)
	}
	if rep.Headers[0].Signers[0].Name == "" {
		t.Errorf("genesis validators are unnamed: %+v", rep.Headers[0].Signers)
	}
	rep, _ = verify.VerifyBundle(f.txBundle(t, 2), f.genesis, f.genesisSum, f.now())
	if rep.Tx == nil || rep.Tx.Code != 7 || len(rep.Tx.Signers) != 0 {
		t.Errorf("rejected tx report: %+v", rep.Tx)
	}
	// Skipping verification: dropping a header inside one validator set's
	// era keeps the chain verifiable.
	b := f.recordBundle(t, "grant", "G-1", 5)
	b.LightBlocks = f.lightBlocks(1, 3, 4, 6)
	if _, err := verify.VerifyBundle(b, f.genesis, f.genesisSum, f.now()); err != nil {
		t.Errorf("minimal chain rejected: %v", err)
	}
}

// clone deep-copies a bundle through its JSON.
func clone(t *testing.T, b *verify.Bundle) *verify.Bundle { return roundTrip(t, b) }

func flipByte(b []byte, i int) []byte { b = bytes.Clone(b); b[i%len(b)] ^= 1; return b }

type tamper struct {
	name string
	b    *verify.Bundle
	gen  *cmttypes.GenesisDoc // nil: the fixture's
	sum  string               // "": the fixture's
	now  time.Time            // zero: the fixture's
	step string
	kind error // ErrBundle, ErrHeader, ErrProof or ErrTx
}

func checkTampers(t *testing.T, f *fixture, cases []tamper) {
	t.Helper()
	for _, c := range cases {
		gen, sum, now := f.genesis, f.genesisSum, f.now()
		if c.gen != nil {
			gen = c.gen
		}
		if c.sum != "" {
			sum = c.sum
		}
		if !c.now.IsZero() {
			now = c.now
		}
		rep, err := verify.VerifyBundle(c.b, gen, sum, now)
		var be *verify.BundleError
		switch {
		case err == nil:
			t.Errorf("%s: tampered bundle verified: %+v", c.name, rep.Steps)
		case !errors.As(err, &be) || be.Step != c.step:
			t.Errorf("%s: failed with %v, want step %q", c.name, err, c.step)
		case !errors.Is(err, c.kind):
			t.Errorf("%s: %v does not wrap %v", c.name, err, c.kind)
		case rep.Outcome != "":
			t.Errorf("%s: failed bundle has outcome %q", c.name, rep.Outcome)
		}
	}
}

func TestRecordBundleTampering(t *testing.T) {
	f := newFixture(t)
	good := func() *verify.Bundle { return clone(t, f.recordBundle(t, "grant", "G-1", 5)) }
	with := func(fn func(b *verify.Bundle)) *verify.Bundle { b := good(); fn(b); return b }
	otherKeys := keysFrom("other", 4)
	otherGen, otherSum := genesisOf(t, "civic-other", otherKeys, f.t0)
	sameIDGen, sameIDSum := genesisOf(t, unitChain, otherKeys, f.t0)

	cases := []tamper{
		{name: "value byte", b: with(func(b *verify.Bundle) { v := &b.Query.Response; v.Value = flipByte(v.Value, 12) }), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "value removed (present claimed absent)", b: with(func(b *verify.Bundle) { b.Query.Response.Value = nil }), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "app hash of header H+1", b: with(func(b *verify.Bundle) { lb := b.LightBlocks[5]; lb.AppHash = flipByte(lb.AppHash, 0) }), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "app hash of header H+1, commit re-pointed", b: with(func(b *verify.Bundle) {
			lb := b.LightBlocks[5]
			lb.AppHash = flipByte(lb.AppHash, 0)
			lb.Commit.BlockID.Hash = lb.Header.Hash()
		}), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "commit signature", b: with(func(b *verify.Bundle) {
			s := &b.LightBlocks[5].Commit.Signatures[0]
			s.Signature = flipByte(s.Signature, 5)
		}), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "first block signature", b: with(func(b *verify.Bundle) {
			s := &b.LightBlocks[0].Commit.Signatures[0]
			s.Signature = flipByte(s.Signature, 5)
		}), step: verify.StepFirstBlock, kind: verify.ErrHeader},
		{name: "validator set power", b: with(func(b *verify.Bundle) { b.LightBlocks[3].ValidatorSet.Validators[0].VotingPower++ }), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "validator set key", b: with(func(b *verify.Bundle) {
			b.LightBlocks[3].ValidatorSet.Validators[0].PubKey = cmted25519.GenPrivKeyFromSecret([]byte("x")).PubKey()
		}), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "genesis validator set", b: with(func(b *verify.Bundle) { b.LightBlocks[0].ValidatorSet.Validators[1].VotingPower = 100 }), step: verify.StepFirstBlock, kind: verify.ErrHeader},
		{name: "drop the header announcing the new set", b: with(func(b *verify.Bundle) { b.LightBlocks = append(b.LightBlocks[:2], b.LightBlocks[3:]...) }), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "drop the first set's last headers", b: with(func(b *verify.Bundle) { b.LightBlocks = append(b.LightBlocks[:1], b.LightBlocks[3:]...) }), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "drop header H+1", b: with(func(b *verify.Bundle) { b.LightBlocks = b.LightBlocks[:5] }), step: verify.StepHeaders, kind: verify.ErrBundle},
		{name: "drop the first block", b: with(func(b *verify.Bundle) { b.LightBlocks = b.LightBlocks[1:] }), step: verify.StepFirstBlock, kind: verify.ErrHeader},
		{name: "no light blocks", b: with(func(b *verify.Bundle) { b.LightBlocks = nil }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "blocks out of order", b: with(func(b *verify.Bundle) { b.LightBlocks[2], b.LightBlocks[3] = b.LightBlocks[3], b.LightBlocks[2] }), step: verify.StepHeaderChain, kind: verify.ErrBundle},
		{name: "another key's query", b: with(func(b *verify.Bundle) { b.Query = f.query(t, ledger.StoreGrants, []byte("G-2"), 5) }), step: verify.StepQuery, kind: verify.ErrBundle},
		{name: "another key's query, key field patched", b: with(func(b *verify.Bundle) {
			b.Query = f.query(t, ledger.StoreGrants, []byte("G-2"), 5)
			b.Query.Response.Key = []byte("G-1")
		}), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "another height's query", b: with(func(b *verify.Bundle) { b.Query = f.query(t, ledger.StoreGrants, []byte("G-1"), 4) }), step: verify.StepQuery, kind: verify.ErrBundle},
		{name: "another height's query, height patched", b: with(func(b *verify.Bundle) {
			b.Query = f.query(t, ledger.StoreGrants, []byte("G-1"), 4)
			b.Query.Response.Height = 5
		}), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "another store's query", b: with(func(b *verify.Bundle) {
			b.Query = f.query(t, ledger.StoreAgencies, []byte("G-1"), 5)
		}), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "manifest id", b: with(func(b *verify.Bundle) { b.Manifest.ID, b.Manifest.Key = "G-2", "G-2" }), step: verify.StepQuery, kind: verify.ErrBundle},
		{name: "manifest key disagrees with id", b: with(func(b *verify.Bundle) { b.Manifest.Key = "G-2" }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "manifest kind", b: with(func(b *verify.Bundle) { b.Manifest.Kind, b.Manifest.Store = "payment", "" }), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "manifest height", b: with(func(b *verify.Bundle) { b.Manifest.Height = 4 }), step: verify.StepQuery, kind: verify.ErrBundle},
		{name: "manifest height and query height", b: with(func(b *verify.Bundle) { b.Manifest.Height, b.Query.Response.Height = 4, 4 }), step: verify.StepStoreProof, kind: verify.ErrProof},
		{name: "manifest genesis hash", b: with(func(b *verify.Bundle) { b.Manifest.GenesisSHA256 = strings.Repeat("0", 64) }), step: verify.StepGenesis, kind: verify.ErrBundle},
		{name: "manifest chain id", b: with(func(b *verify.Bundle) { b.Manifest.ChainID = "civic-other" }), step: verify.StepChainID, kind: verify.ErrBundle},
		{name: "format version", b: with(func(b *verify.Bundle) { b.Manifest.Format = 2 }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "unknown kind", b: with(func(b *verify.Bundle) { b.Manifest.Kind = "permit" }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "no query", b: with(func(b *verify.Bundle) { b.Query = nil }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "no proof", b: with(func(b *verify.Bundle) { b.Query.Response.ProofOps = nil }), step: verify.StepQuery, kind: verify.ErrBundle},
		{name: "headerless light block", b: with(func(b *verify.Bundle) { b.LightBlocks[2].SignedHeader.Header = nil }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "another genesis file", b: good(), gen: otherGen, sum: otherSum, step: verify.StepGenesis, kind: verify.ErrBundle},
		{name: "another genesis, manifest patched", b: with(func(b *verify.Bundle) { b.Manifest.GenesisSHA256 = otherSum }), gen: otherGen, sum: otherSum, step: verify.StepChainID, kind: verify.ErrBundle},
		{name: "same chain id, other validators", b: with(func(b *verify.Bundle) { b.Manifest.GenesisSHA256 = sameIDSum }), gen: sameIDGen, sum: sameIDSum, step: verify.StepFirstBlock, kind: verify.ErrHeader},
		{name: "clock before the headers", b: good(), now: f.t0.Add(-time.Hour), step: verify.StepHeaderChain, kind: verify.ErrHeader},
	}
	for op := range 2 {
		n := len(good().Query.Response.ProofOps.Ops[op].Data)
		for i := 0; i < n; i += 1 + n/60 { // ~60 positions per op, first and last included
			cases = append(cases, tamper{name: fmt.Sprintf("proof op %d byte %d", op, i), b: with(func(b *verify.Bundle) {
				o := &b.Query.Response.ProofOps.Ops[op]
				o.Data = flipByte(o.Data, i)
			}), step: verify.StepStoreProof, kind: verify.ErrProof})
		}
		cases = append(cases, tamper{name: fmt.Sprintf("proof op %d last byte", op), b: with(func(b *verify.Bundle) {
			o := &b.Query.Response.ProofOps.Ops[op]
			o.Data = flipByte(o.Data, len(o.Data)-1)
		}), step: verify.StepStoreProof, kind: verify.ErrProof})
		cases = append(cases, tamper{name: fmt.Sprintf("proof op %d key", op), b: with(func(b *verify.Bundle) {
			o := &b.Query.Response.ProofOps.Ops[op]
			o.Key = flipByte(o.Key, 0)
		}), step: verify.StepStoreProof, kind: verify.ErrProof})
	}
	checkTampers(t, f, cases)

	// An absent record claimed present with another record's value.
	b := clone(t, f.recordBundle(t, "grant", "G-404", 5))
	b.Query.Response.Value = []byte(`{"id":"G-404"}`)
	checkTampers(t, f, []tamper{{name: "absent claimed present", b: b, step: verify.StepStoreProof, kind: verify.ErrProof}})
}

func TestTxBundleTampering(t *testing.T) {
	f := newFixture(t)
	good := func() *verify.Bundle { return clone(t, f.txBundle(t, 1)) }
	with := func(fn func(b *verify.Bundle)) *verify.Bundle { b := good(); fn(b); return b }
	cases := []tamper{
		{name: "tx byte", b: with(func(b *verify.Bundle) { b.Tx.Tx = flipByte(b.Tx.Tx, 40) }), step: verify.StepTxInclusion, kind: verify.ErrTx},
		{name: "tx and proof data byte", b: with(func(b *verify.Bundle) {
			b.Tx.Tx = flipByte(b.Tx.Tx, 40)
			b.Tx.Proof.Data = b.Tx.Tx
		}), step: verify.StepTxInclusion, kind: verify.ErrTx},
		{name: "tx, proof data and hashes", b: with(func(b *verify.Bundle) {
			b.Tx.Tx = flipByte(b.Tx.Tx, 40)
			b.Tx.Proof.Data = b.Tx.Tx
			b.Tx.Hash = b.Tx.Tx.Hash()
			b.Manifest.ID = fmt.Sprintf("%X", b.Tx.Tx.Hash())
		}), step: verify.StepTxInclusion, kind: verify.ErrTx},
		{name: "proof aunt", b: with(func(b *verify.Bundle) { a := b.Tx.Proof.Proof.Aunts; a[0] = flipByte(a[0], 3) }), step: verify.StepTxInclusion, kind: verify.ErrTx},
		{name: "claimed index", b: with(func(b *verify.Bundle) { b.Tx.Index = 2 }), step: verify.StepTxInclusion, kind: verify.ErrTx},
		{name: "claimed code", b: with(func(b *verify.Bundle) { b.Tx.TxResult.Code = 5 }), step: verify.StepTxResult, kind: verify.ErrTx},
		{name: "committed code", b: with(func(b *verify.Bundle) { b.BlockResults.TxsResults[1].Code = 5 }), step: verify.StepTxResult, kind: verify.ErrTx},
		{name: "committed code and claim", b: with(func(b *verify.Bundle) { b.BlockResults.TxsResults[1].Code = 5; b.Tx.TxResult.Code = 5 }), step: verify.StepTxResult, kind: verify.ErrTx},
		{name: "results of another block", b: with(func(b *verify.Bundle) { b.BlockResults.TxsResults = b.BlockResults.TxsResults[:2] }), step: verify.StepTxResult, kind: verify.ErrBundle},
		{name: "results height", b: with(func(b *verify.Bundle) { b.BlockResults.Height = 3 }), step: verify.StepTxResult, kind: verify.ErrBundle},
		{name: "tx hash in manifest", b: with(func(b *verify.Bundle) { b.Manifest.ID = fmt.Sprintf("%X", f.txs[2].Hash()) }), step: verify.StepTxInclusion, kind: verify.ErrBundle},
		{name: "tx height in manifest", b: with(func(b *verify.Bundle) { b.Manifest.Height = 3 }), step: verify.StepHeaders, kind: verify.ErrBundle},
		{name: "agency record value", b: with(func(b *verify.Bundle) { v := &b.AgencyQuery.Response; v.Value = flipByte(v.Value, 30) }), step: verify.StepAgencyRecord, kind: verify.ErrProof},
		{name: "agency record of another height", b: with(func(b *verify.Bundle) {
			b.AgencyQuery = f.query(t, ledger.StoreAgencies, []byte("agency-1"), 2)
		}), step: verify.StepAgencyRecord, kind: verify.ErrBundle},
		{name: "agency record of another height, height patched", b: with(func(b *verify.Bundle) {
			b.AgencyQuery = f.query(t, ledger.StoreAgencies, []byte("agency-1"), 2)
			b.AgencyQuery.Response.Height = 1
		}), step: verify.StepAgencyRecord, kind: verify.ErrProof},
		{name: "agency proof op", b: with(func(b *verify.Bundle) { o := &b.AgencyQuery.Response.ProofOps.Ops[1]; o.Data = flipByte(o.Data, 20) }), step: verify.StepAgencyRecord, kind: verify.ErrProof},
		{name: "agency record claimed absent", b: with(func(b *verify.Bundle) { b.AgencyQuery.Response.Value = nil }), step: verify.StepAgencyRecord, kind: verify.ErrProof},
		{name: "drop header H", b: with(func(b *verify.Bundle) { b.LightBlocks = append(b.LightBlocks[:1], b.LightBlocks[2]) }), step: verify.StepHeaders, kind: verify.ErrBundle},
		{name: "drop header H+1", b: with(func(b *verify.Bundle) { b.LightBlocks = b.LightBlocks[:2] }), step: verify.StepHeaders, kind: verify.ErrBundle},
		{name: "data hash of header H", b: with(func(b *verify.Bundle) { lb := b.LightBlocks[1]; lb.DataHash = flipByte(lb.DataHash, 0) }), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "results hash of header H+1", b: with(func(b *verify.Bundle) { lb := b.LightBlocks[2]; lb.LastResultsHash = flipByte(lb.LastResultsHash, 0) }), step: verify.StepHeaderChain, kind: verify.ErrHeader},
		{name: "no block results", b: with(func(b *verify.Bundle) { b.BlockResults = nil }), step: verify.StepFormat, kind: verify.ErrBundle},
		{name: "no agency query", b: with(func(b *verify.Bundle) { b.AgencyQuery = nil }), step: verify.StepAgencyRecord, kind: verify.ErrBundle},
		{name: "genesis hash", b: good(), sum: strings.Repeat("ab", 32), step: verify.StepGenesis, kind: verify.ErrBundle},
	}
	first := func(fn func(b *verify.Bundle)) *verify.Bundle { b := clone(t, f.firstBlockTxBundle()); fn(b); return b }
	cases = append(cases,
		tamper{name: "first block tx with an agency query", b: first(func(b *verify.Bundle) { b.AgencyQuery = f.query(t, ledger.StoreAgencies, []byte("agency-1"), 1) }), step: verify.StepFormat, kind: verify.ErrBundle},
		tamper{name: "first block tx, results byte", b: first(func(b *verify.Bundle) { b.BlockResults.TxsResults[0].GasUsed = 1; b.Tx.TxResult.GasUsed = 1 }), step: verify.StepTxResult, kind: verify.ErrTx},
		tamper{name: "header H+1 replaced by a later header", b: with(func(b *verify.Bundle) {
			b.LightBlocks = f.lightBlocks(1, 2, 3, 4)
			b.LightBlocks[2] = b.LightBlocks[3]
		}), step: verify.StepHeaderChain, kind: verify.ErrBundle},
	)
	// A genesis file (same validators, its hash in the manifest) whose
	// agency-1 has no officer: the first block's tx is then signed by none.
	noOfficer, noOfficerSum := genesisOf(t, unitChain, keysFrom("a", 4), f.t0, ledger.Agency{ID: "agency-1"})
	b := first(func(b *verify.Bundle) { b.Manifest.GenesisSHA256 = noOfficerSum })
	// The first block's result commits the digest of the genesis record.
	cases = append(cases, tamper{name: "first block tx against a genesis without the officer", b: b, gen: noOfficer, sum: noOfficerSum, step: verify.StepAgencyRecord, kind: verify.ErrTx})
	checkTampers(t, f, cases)

	// A rejected tx passed off as a success: its committed code is 7.
	b = clone(t, f.txBundle(t, 2))
	b.Tx.TxResult.Code = 0
	checkTampers(t, f, []tamper{{name: "rejected claimed ok", b: b, step: verify.StepTxResult, kind: verify.ErrTx}})
}

func TestBundleJSON(t *testing.T) {
	f := newFixture(t)
	b := f.txBundle(t, 1)
	bz, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(bz, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"manifest", "light_blocks", "tx", "block_results", "agency_query"} {
		if top[k] == nil {
			t.Errorf("no %q in %s", k, bz)
		}
	}
	if _, ok := top["abci_query"]; ok {
		t.Error("tx bundle has abci_query")
	}
	// The RPC objects are CometBFT's JSON: 64-bit integers as strings.
	var tx map[string]json.RawMessage
	_ = json.Unmarshal(top["tx"], &tx)
	if string(tx["height"]) != `"2"` {
		t.Errorf("tx.height is %s", tx["height"])
	}
	var m map[string]any
	_ = json.Unmarshal(top["manifest"], &m)
	if m["height"] != float64(2) || m["format"] != float64(1) {
		t.Errorf("manifest %v", m)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"manifest":{"format":1},"light_blocks":[{"signed_header":7}]}`, `{"manifest":[]}`} {
		if _, err := verify.ParseBundle([]byte(bad)); err == nil {
			t.Errorf("ParseBundle(%q) accepted", bad)
		}
	}
	// A parsed bundle with holes fails verification without panicking.
	for _, s := range []string{
		`{"manifest":{"format":1,"kind":"grant","id":"G-1"},"light_blocks":[null],"abci_query":{"response":{}}}`,
		`{"manifest":{"format":1,"kind":"tx","id":"AB","height":"2"},"light_blocks":[{}],"tx":{},"block_results":{},"agency_query":{}}`,
		`{"manifest":{"format":1,"kind":"grant","id":"G-1"},"light_blocks":[{"signed_header":{"header":{},"commit":{}},"validator_set":{}}],"abci_query":{"response":{}}}`,
	} {
		b, err := verify.ParseBundle([]byte(s))
		if err != nil {
			continue
		}
		if _, err := verify.VerifyBundle(b, f.genesis, f.genesisSum, f.now()); !errors.Is(err, verify.ErrBundle) && !errors.Is(err, verify.ErrHeader) {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestBundleChain(t *testing.T) {
	f := newFixture(t)
	var asked [][2]int64
	between := func(lo, hi int64) (*cmttypes.LightBlock, error) {
		asked = append(asked, [2]int64{lo, hi})
		return f.blocks[lo+(hi-lo)/2], nil
	}
	heights := func(lbs []*cmttypes.LightBlock) []int64 {
		var out []int64
		for _, lb := range lbs {
			out = append(out, lb.Height)
		}
		return out
	}
	// Within one validator set: no bisection.
	got, err := verify.BundleChain(f.blocks[1], f.lightBlocks(2, 3), between, f.now())
	if err != nil || fmt.Sprint(heights(got)) != "[1 2 3]" || len(asked) != 0 {
		t.Fatalf("%v %v %v", heights(got), err, asked)
	}
	got, err = verify.BundleChain(f.blocks[1], f.lightBlocks(3), between, f.now())
	if err != nil || fmt.Sprint(heights(got)) != "[1 3]" {
		t.Fatalf("%v %v", heights(got), err)
	}
	// Across the change from set A to set B, bisection finds header 3 (the
	// last of A, announcing B) and 4 (the first of B): 1 → 7 fails, 1 → 4
	// fails, 1 → 2 holds, 2 → 4 fails, 2 → 3, 3 → 4 and 4 → 7 hold.
	got, err = verify.BundleChain(f.blocks[1], f.lightBlocks(7), between, f.now())
	if err != nil {
		t.Fatal(err)
	}
	if h := heights(got); fmt.Sprint(h) != "[1 2 3 4 7]" {
		t.Fatalf("chain %v (asked %v)", h, asked)
	}
	b := f.recordBundle(t, "grant", "G-1", 6)
	b.LightBlocks = got
	if _, err := verify.VerifyBundle(b, f.genesis, f.genesisSum, f.now()); err != nil {
		t.Fatalf("bisected chain rejected: %v", err)
	}
	// A helper that cannot bisect.
	_, err = verify.BundleChain(f.blocks[1], f.lightBlocks(7), func(lo, hi int64) (*cmttypes.LightBlock, error) { return f.blocks[hi], nil }, f.now())
	if !errors.Is(err, verify.ErrHeader) {
		t.Errorf("bad bisection helper: %v", err)
	}
	// Targets out of order.
	if _, err := verify.BundleChain(f.blocks[1], f.lightBlocks(3, 2), between, f.now()); !errors.Is(err, verify.ErrHeader) {
		t.Errorf("descending targets: %v", err)
	}
}
