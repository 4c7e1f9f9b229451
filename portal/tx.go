package portal

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// txView is a transaction's page.
type txView struct {
	Hash    string
	Fields  []field
	Payload string
	Records []recordLink
	OK      bool
	Result  string
}

func (s *server) tx(w http.ResponseWriter, r *http.Request) {
	hash := strings.ToUpper(r.PathValue("hash"))
	raw, err := hex.DecodeString(hash)
	if err != nil || len(raw) != 32 {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	ctx := r.Context()
	res, err := s.c.RPC().Tx(ctx, raw, false)
	switch {
	case client.NoTxIndex(err):
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound", err: client.ErrNoTxIndex})
		return
	case err != nil && strings.Contains(err.Error(), "not found"):
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound", err: err})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	t := s.texts
	v := &txView{Hash: hash, OK: res.TxResult.Code == 0, Records: touched(res.TxResult.Events)}
	if v.OK {
		v.Result = t.get("tx.ok")
	} else {
		v.Result = t.getf("tx.rejected", res.TxResult.Code, res.TxResult.Log)
	}
	times := s.blockTimes(ctx, []int64{res.Height})
	v.Fields = []field{
		{Label: t.get("f.height"), Value: strconv.FormatInt(res.Height, 10)},
		{Label: t.get("f.time"), Value: times[res.Height]},
		{Label: t.get("f.result"), Value: v.Result},
	}
	if d, err := ledger.DecodeTx(res.Tx, 0); err == nil {
		names := s.c.OfficerNames(ctx, d.Body.Agency, res.Height)
		v.Fields = append(v.Fields,
			field{Label: t.get("f.type"), Value: d.Body.Type},
			field{Label: t.get("f.agency"), Value: d.Body.Agency, Href: recordPath("agency", d.Body.Agency)},
			field{Label: t.get("f.nonce"), Value: strconv.FormatUint(d.Body.Nonce, 10)},
			field{Label: t.get("f.expires"), Value: strconv.FormatInt(d.Body.ExpiresAt, 10)})
		for _, sig := range d.Signatures {
			v.Fields = append(v.Fields, field{Label: t.get("f.signers"), Value: officerName(t, names, sig.PubKey), Hash: true})
		}
		if pretty, err := json.MarshalIndent(json.RawMessage(d.Body.Payload), "", "  "); err == nil {
			v.Payload = string(pretty)
		}
	}
	// A transaction in a block never changes.
	cache(w, true)
	s.render(w, r, "tx", &view{Title: t.getf("tx.title", hash[:12]+"…"), Height: res.Height, At: true, Data: v, Check: s.check("tx", hash, 0)})
}
