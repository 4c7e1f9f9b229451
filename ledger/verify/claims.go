package verify

import (
	"fmt"
	"strings"
)

// RecordClaims are the sentences a record bundle proves, from its verified
// facts: what the proof shows of the key, the header that commits the
// state, and the trust root.
func RecordClaims(f *Facts, genesisSHA256 string) []string {
	what := "ABSENT from"
	if f.Present {
		what = "present, with the value abci_query.response.value, in"
	}
	return []string{
		fmt.Sprintf("%s %s (key %q) is %s store %q in the state at height %d", f.Kind, f.ID, f.Key, what, f.Store, f.Height),
		fmt.Sprintf("that state is committed in the AppHash of header %d (ICS23 proofs in abci_query.response.proof_ops)", f.Height+1),
		fmt.Sprintf("header %d is reached from the chain's first block, which the validators of the genesis file with sha256 %s signed (light_blocks)", f.Height+1, strings.ToLower(genesisSHA256)),
	}
}

// TxClaims are the sentences a tx bundle proves, from its verified facts:
// inclusion, the committed result code, whose authority the signatures
// were checked against, and the trust root.
func TxClaims(f *Facts, genesisSHA256 string) []string {
	t := f.Tx
	h := t.Height
	out := []string{
		fmt.Sprintf("tx %s (tx.tx) is tx %d of block %d: a Merkle proof (tx.proof) places it under the DataHash of header %d", t.Hash, t.Index, h, h),
		fmt.Sprintf("its result has code %d: block %d's results (block_results) hash to the LastResultsHash of header %d", t.Code, h, h+1),
	}
	var per string
	switch t.AgencyRecord {
	case "genesis":
		per = "the genesis file's record of agency " + t.Agency + " (the tx is in the chain's first block)"
	case "before":
		per = fmt.Sprintf("the record of agency %s at height %d (agency_query), proved against the AppHash of header %d", t.Agency, h-1, h)
	case "result":
		per = fmt.Sprintf("the record of agency %s that the tx's result carries (written earlier in block %d), committed in the LastResultsHash of header %d", t.Agency, h, h+1)
	}
	switch {
	case t.Code == 0:
		out = append(out, fmt.Sprintf("its %d signature(s) verify and are those of officers of %s with the role the tx needs, per %s", len(t.Signers), t.Agency, per))
	case len(t.Signers) > 0:
		out = append(out, fmt.Sprintf("the chain rejected it; its %d signature(s) verify and are those of officers of %s, per %s", len(t.Signers), t.Agency, per))
	default:
		out = append(out, "the chain rejected it; its signatures are not those of officers with the role it needs (consistent with the rejection)")
	}
	return append(out, fmt.Sprintf("headers %d and %d are reached from the chain's first block, which the validators of the genesis file with sha256 %s signed (light_blocks)", h, h+1, strings.ToLower(genesisSHA256)))
}

// checkClaims refuses a manifest whose sentences are not the ones the
// verified facts give. An exporter may state none.
func checkClaims(stated, verified []string) error {
	if len(stated) == 0 {
		return nil
	}
	for i := range max(len(stated), len(verified)) {
		switch {
		case i >= len(verified):
			return bundleErr(StepClaims, "manifest.proves[%d] says %q, which the verified facts do not give (they give %d sentences)", i, stated[i], len(verified))
		case i >= len(stated):
			return bundleErr(StepClaims, "manifest.proves has %d sentences, the verified facts give %d (missing: %q)", len(stated), len(verified), verified[i])
		case stated[i] != verified[i]:
			return bundleErr(StepClaims, "manifest.proves[%d] says %q, but the verified facts give %q", i, stated[i], verified[i])
		}
	}
	return nil
}
