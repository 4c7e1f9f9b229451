package portal

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/civicledger/civicledger/client"
)

// recentHistory returns, oldest first, the latest n transactions (and,
// for a licence, expiry blocks) whose events touched a record, up to
// height upTo (0: the latest), and how many there are in all. It is
// client.History bounded for a public page: one tx_search of the latest n
// (newest first) instead of every page, so that a grant with thousands of
// payments costs one query. The entries are built as client.History
// builds them; client.HistoryChanges adds what each changed.
func (s *server) recentHistory(ctx context.Context, kind, id string, upTo int64, n int) ([]client.HistoryEntry, int, error) {
	q := fmt.Sprintf("%s.id='%s'", kind, id)
	if upTo > 0 {
		q += fmt.Sprintf(" AND tx.height<=%d", upTo)
	}
	page, per := 1, n
	res, err := s.c.RPC().TxSearch(ctx, q, false, &page, &per, "desc")
	if client.NoTxIndex(err) {
		return nil, 0, client.ErrNoTxIndex
	}
	if err != nil {
		return nil, 0, err
	}
	out := make([]client.HistoryEntry, 0, len(res.Txs))
	for _, tx := range res.Txs {
		e := client.HistoryEntry{Hash: strings.ToUpper(hex.EncodeToString(tx.Hash)), Height: tx.Height, Attrs: map[string]string{}}
		e.SetTx(tx.Tx)
		for _, ev := range tx.TxResult.Events {
			attrs := map[string]string{}
			for _, a := range ev.Attributes {
				attrs[a.Key] = a.Value
			}
			switch {
			case ev.Type == "tx":
				e.Type = attrs["type"]
			case ev.Type == kind && attrs["id"] == id:
				e.Action, e.Status, e.Attrs = attrs["action"], attrs["status"], attrs
			}
		}
		out = append(out, e)
	}
	total := res.TotalCount
	if kind == "licence" {
		// A licence's expiry happens at the start of a block, not in a
		// transaction: its events are block events.
		bq := fmt.Sprintf("licence.id='%s'", id)
		if upTo > 0 {
			bq += fmt.Sprintf(" AND block.height<=%d", upTo)
		}
		bp, bper := 1, n
		br, err := s.c.RPC().BlockSearch(ctx, bq, &bp, &bper, "desc")
		if err != nil {
			return nil, 0, err
		}
		total += br.TotalCount
		for _, b := range br.Blocks {
			h := b.Block.Height
			results, err := s.c.RPC().BlockResults(ctx, &h)
			if err != nil {
				return nil, 0, err
			}
			for _, ev := range results.FinalizeBlockEvents {
				if ev.Type != kind {
					continue
				}
				attrs := map[string]string{}
				for _, a := range ev.Attributes {
					attrs[a.Key] = a.Value
				}
				if attrs["id"] == id {
					out = append(out, client.HistoryEntry{Height: h, Type: "block", Action: attrs["action"], Status: attrs["status"], Attrs: attrs})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Height < out[j].Height })
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, total, nil
}
