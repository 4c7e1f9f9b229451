package export

import (
	"encoding/json"
	"fmt"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// pageSource serves the proved pages of the provable listings at one
// height, in the order the walk asks for them: online from a node (each
// page verified, then kept as proof), or offline from a release's proof
// file (each page verified again).
type pageSource interface {
	page(listing, owner, after string) (*verify.Listing, error)
}

// sink receives the records of an export in the walk's order: for each
// agency (agencies in id order), the agency, its grants with their
// payments, its licences, then all its payments (those against a grant
// too). Each format is a sink.
type sink interface {
	agency(a *ledger.Agency) error
	grant(a *ledger.Agency, g *ledger.Grant, payments []ledger.Payment) error
	licence(a *ledger.Agency, l *ledger.Licence) error
	payment(a *ledger.Agency, p *ledger.Payment) error
	// close writes what ends the files (closing brackets, trailers).
	close() error
}

// Counts are the records of an export.
type Counts struct {
	Agencies int64 `json:"agencies"`
	Grants   int64 `json:"grants"`
	Licences int64 `json:"licences"`
	Payments int64 `json:"payments"`
}

// Total is the number of records.
func (c Counts) Total() int64 { return c.Agencies + c.Grants + c.Licences + c.Payments }

// selection is what an export holds: one agency's records or all, records
// changed from a height on or all (agencies are always all, or the one).
type selection struct {
	agency     string // "" every agency
	fromHeight int64  // records whose updated height is at least this
}

// walker reads the listings from src and hands the selected records to the
// sinks.
type walker struct {
	src      pageSource
	sel      selection
	sinks    []sink
	counts   Counts
	progress func(Progress)
	// the agency being walked: its id, its number and how many are known
	// so far (a page of the agencies listing at a time)
	current            string
	agencyNo, agencies int
}

// Progress is how far an export has come: the records written, and the
// agency whose records are being written (the agencies are walked in id
// order; Agencies counts those of the listing pages read so far, all of
// them unless there are more than a page).
type Progress struct {
	Written  Counts
	Agency   string
	AgencyNo int
	Agencies int
}

// each calls f for every entry of listing for owner, page by page.
func (w *walker) each(listing, owner string, f func(e *verify.ListedRecord) error) error {
	after := ""
	for {
		l, err := w.src.page(listing, owner, after)
		if err != nil {
			return err
		}
		for i := range l.Entries {
			if err := f(&l.Entries[i]); err != nil {
				return err
			}
		}
		if l.Complete {
			return nil
		}
		after = l.Next
	}
}

func decode(e *verify.ListedRecord, v any) error {
	if err := json.Unmarshal(e.Record, v); err != nil {
		return fmt.Errorf("%w: record %q is not a record: %v", verify.ErrProof, e.ID, err)
	}
	return nil
}

func (w *walker) tick() {
	if w.progress != nil {
		w.progress(Progress{Written: w.counts, Agency: w.current, AgencyNo: w.agencyNo, Agencies: w.agencies})
	}
}

// run walks every selected record once.
func (w *walker) run() error {
	after := ""
	for {
		l, err := w.src.page(ledger.ListingAgencies, "", after)
		if err != nil {
			return err
		}
		var page []ledger.Agency
		for i := range l.Entries {
			var a ledger.Agency
			if err := decode(&l.Entries[i], &a); err != nil {
				return err
			}
			if w.sel.agency == "" || a.ID == w.sel.agency {
				page = append(page, a)
			}
		}
		w.agencies += len(page)
		for i := range page {
			w.agencyNo, w.current = w.agencyNo+1, page[i].ID
			if err := w.agency(&page[i]); err != nil {
				return err
			}
		}
		if l.Complete {
			break
		}
		after = l.Next
	}
	for _, s := range w.sinks {
		if err := s.close(); err != nil {
			return err
		}
	}
	w.tick()
	return nil
}

func (w *walker) agency(a *ledger.Agency) error {
	// Agencies are always written: the records name them.
	w.counts.Agencies++
	for _, s := range w.sinks {
		if err := s.agency(a); err != nil {
			return err
		}
	}
	err := w.each(ledger.ListingGrants, a.ID, func(e *verify.ListedRecord) error {
		var g ledger.Grant
		if err := decode(e, &g); err != nil {
			return err
		}
		if g.Updated < w.sel.fromHeight {
			return nil
		}
		// The formats nest a grant's recorded payments; a grant whose
		// proved record counts none has none to list (its reversed
		// payments are in the agency's payments).
		var pays []ledger.Payment
		if g.Payments > 0 {
			if err := w.each(ledger.ListingGrantPayments, g.ID, func(e *verify.ListedRecord) error {
				var p ledger.Payment
				if err := decode(e, &p); err != nil {
					return err
				}
				pays = append(pays, p)
				return nil
			}); err != nil {
				return err
			}
		}
		w.counts.Grants++
		for _, s := range w.sinks {
			if err := s.grant(a, &g, pays); err != nil {
				return err
			}
		}
		w.tick()
		return nil
	})
	if err != nil {
		return err
	}
	err = w.each(ledger.ListingLicences, a.ID, func(e *verify.ListedRecord) error {
		var l ledger.Licence
		if err := decode(e, &l); err != nil {
			return err
		}
		if l.Updated < w.sel.fromHeight {
			return nil
		}
		w.counts.Licences++
		for _, s := range w.sinks {
			if err := s.licence(a, &l); err != nil {
				return err
			}
		}
		w.tick()
		return nil
	})
	if err != nil {
		return err
	}
	return w.each(ledger.ListingPayments, a.ID, func(e *verify.ListedRecord) error {
		var p ledger.Payment
		if err := decode(e, &p); err != nil {
			return err
		}
		if p.Updated < w.sel.fromHeight {
			return nil
		}
		w.counts.Payments++
		for _, s := range w.sinks {
			if err := s.payment(a, &p); err != nil {
				return err
			}
		}
		w.tick()
		return nil
	})
}
