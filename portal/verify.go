package portal

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// verifyView is the "how to verify" page.
type verifyView struct {
	ChainID    string
	GenesisSum string
	HasGenesis bool
	Witnesses  []witnessRow
	Example    string
}

type witnessRow struct {
	URL    string
	Agrees bool
	Height int64
}

func (s *server) verifyPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := s.c.Status(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &verifyView{ChainID: st.NodeInfo.Network, GenesisSum: s.genesisSum, HasGenesis: s.genesis != nil, Example: "G-2026-001"}
	// The example names a grant of this ledger, if it has one.
	if p, err := s.c.Records(ctx, "grant", client.ListFilter{Limit: 1}, 0); err == nil && len(p.Items) == 1 {
		var g ledger.Grant
		if json.Unmarshal(p.Items[0], &g) == nil {
			v.Example = g.ID
		}
	}
	// Compare the header of a block both have: the node's latest but one.
	h := st.SyncInfo.LatestBlockHeight - 1
	if h >= 1 {
		mine, err := s.c.RPC().Header(ctx, &h)
		for _, wc := range s.witnesses {
			row := witnessRow{URL: wc.URL, Height: h}
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			theirs, werr := wc.RPC().Header(wctx, &h)
			cancel()
			row.Agrees = err == nil && werr == nil && mine.Header != nil && theirs.Header != nil &&
				mine.Header.Hash().String() == theirs.Header.Hash().String()
			v.Witnesses = append(v.Witnesses, row)
		}
	}
	cache(w, false)
	s.render(w, r, "verify", &view{Title: s.texts.get("verify.title"), Height: st.SyncInfo.LatestBlockHeight, Data: v})
}
