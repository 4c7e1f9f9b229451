package ledger

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// Store names. The AppHash commits to one IAVL tree per store.
const (
	StoreAgencies = "agencies"
	StoreGrants   = "grants"
	StoreIndex    = "index"
	StoreLicences = "licences"
	StoreMeta     = "meta"
	StorePayments = "payments"
)

// StoreNames lists every store, sorted by name (the AppHash leaf order).
var StoreNames = []string{StoreAgencies, StoreGrants, StoreIndex, StoreLicences, StoreMeta, StorePayments}

// SeedKey is written in every store at genesis so that no tree is ever empty
// (an empty tree cannot prove anything). '!' is outside the identifier
// alphabet, so it never collides with a record.
var SeedKey = []byte("!store")

// Key layout. Records live under their id in their own store; indexes and
// bookkeeping use readable composite keys with '/' separators ('/' is outside
// the identifier alphabet).
//
//	agencies  <agency>                                   Agency JSON
//	grants    <grant>                                    Grant JSON
//	licences  <licence>                                  Licence JSON
//	payments  <payment>                                  Payment JSON
//	index     grant/agency/<agency>/<grant>              grant status
//	index     licence/agency/<agency>/<licence>          licence status
//	index     licence/expiry/<YYYY-MM-DD>/<licence>      "1" while the licence can expire on that date
//	index     payment/agency/<agency>/<payment>          payment status
//	index     payment/grant/<grant>/<payment>            payment status
//	index     officer/<key hex>                          agency id of the officer with that key
//	meta      params                                     Params JSON
//	meta      nonce/<signer hex>/<nonce 20 digits>       expires_at (decimal)
//	meta      nonce-exp/<expires_at 20 digits>/<signer hex>/<nonce 20 digits>   "1"
//	meta      total/<agency>/<currency>                  Totals JSON
var (
	KeyParams = []byte("params")
)

// RecordKey is the key of a record in its own store.
func RecordKey(id string) []byte { return []byte(id) }

// IndexKindPrefix is the prefix of the index keys of every record of a kind
// of ListedKinds under its agency: "<kind>/agency/".
func IndexKindPrefix(kind Kind) []byte { return []byte(kind + "/agency/") }

// IndexByAgency is the index key of a record of a kind of ListedKinds under
// its agency (with id "": the prefix of the agency's records of that kind).
// Its value is the record's status.
func IndexByAgency(kind Kind, agency, id string) []byte {
	return append(IndexKindPrefix(kind), agency+"/"+id...)
}

// IndexGrantByAgency is the index key of a grant under its agency.
func IndexGrantByAgency(agency, id string) []byte { return IndexByAgency(KindGrant, agency, id) }

// IndexLicenceByAgency is the index key of a licence under its agency.
func IndexLicenceByAgency(agency, id string) []byte { return IndexByAgency(KindLicence, agency, id) }

// IndexPaymentByAgency is the index key of a payment under its agency.
func IndexPaymentByAgency(agency, id string) []byte { return IndexByAgency(KindPayment, agency, id) }

// IndexPaymentByGrant is the index key of a payment under its grant (with
// id "": the prefix of the grant's payments).
func IndexPaymentByGrant(grant, id string) []byte {
	return []byte("payment/grant/" + grant + "/" + id)
}

func indexLicenceExpiry(date, id string) []byte {
	return []byte("licence/expiry/" + date + "/" + id)
}

const licenceExpiryPrefix = "licence/expiry/"

// IndexOfficer is the index key that maps an officer key to its agency: an
// ed25519 key belongs to at most one agency.
func IndexOfficer(key []byte) []byte { return []byte("officer/" + hex.EncodeToString(key)) }

func nonceKey(signer []byte, nonce uint64) []byte {
	return fmt.Appendf(nil, "nonce/%s/%020d", hex.EncodeToString(signer), nonce)
}

func nonceExpiryKey(expires int64, signer []byte, nonce uint64) []byte {
	return fmt.Appendf(nil, "nonce-exp/%020d/%s/%020d", expires, hex.EncodeToString(signer), nonce)
}

const nonceExpiryPrefix = "nonce-exp/"

// TotalsKey is the meta key of an agency's totals in a currency.
func TotalsKey(agency, currency string) []byte {
	return []byte(totalsPrefix + TotalsID(agency, currency))
}

// totalsPrefix is the meta key prefix of every agency's totals.
const totalsPrefix = "total/"

// PrefixEnd returns the smallest key greater than every key with the prefix.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Listings that can be proved complete: each is the range of keys of one
// store under a prefix (see ListingRangeOf).
const (
	ListingGrants        = "grants"         // grants of an agency: index grant/agency/<agency>/<grant>
	ListingLicences      = "licences"       // licences of an agency: index licence/agency/<agency>/<licence>
	ListingPayments      = "payments"       // payments of an agency: index payment/agency/<agency>/<payment>
	ListingGrantPayments = "grant-payments" // payments of a grant: index payment/grant/<grant>/<payment>
	ListingAgencies      = "agencies"       // every agency: the agencies store
)

// Listings names every provable listing.
var Listings = []string{ListingAgencies, ListingGrantPayments, ListingGrants, ListingLicences, ListingPayments}

// ListingKind is the kind of the records a listing of Listings lists ("" for
// another listing).
func ListingKind(listing string) Kind {
	switch listing {
	case ListingAgencies:
		return KindAgency
	case ListingGrants:
		return KindGrant
	case ListingLicences:
		return KindLicence
	case ListingPayments, ListingGrantPayments:
		return KindPayment
	}
	return ""
}

// ListingRange is the key range of a provable listing: the listed ids are
// the keys Prefix+id of Store below End (nil: to the end of the store).
// RecordStore holds the record of each id under RecordKey(id), or is empty
// when the listed values are the records themselves.
type ListingRange struct {
	Listing     string
	Owner       string // the agency, or the grant of ListingGrantPayments
	Store       string
	Prefix      []byte
	End         []byte
	RecordStore string
	first       []byte
}

// ListingRangeOf returns the range of listing for owner (an agency id, a
// grant id for ListingGrantPayments, empty for ListingAgencies).
func ListingRangeOf(listing, owner string) (*ListingRange, error) {
	if listing == ListingAgencies {
		if owner != "" {
			return nil, fieldErr(ErrInvalidField, "owner", "the agencies listing has no owner")
		}
		// The agencies store holds the seed key and agency ids only; ids
		// sort after the seed ('!' is below the identifier alphabet).
		return &ListingRange{Listing: listing, Store: StoreAgencies, Prefix: []byte{}, first: append(bytes.Clone(SeedKey), 0)}, nil
	}
	var prefix func(owner string) []byte
	var records string
	switch listing {
	case ListingGrants, ListingLicences, ListingPayments:
		kind := ListingKind(listing)
		prefix = func(owner string) []byte { return IndexByAgency(kind, owner, "") }
		records = StoreOf(kind)
	case ListingGrantPayments:
		prefix = func(grant string) []byte { return IndexPaymentByGrant(grant, "") }
		records = StorePayments
	default:
		return nil, fieldErr(ErrInvalidField, "listing", "%q (one of %v)", listing, Listings)
	}
	if !ValidID(owner) {
		return nil, fieldErr(ErrInvalidID, "owner", "%q", owner)
	}
	p := prefix(owner)
	return &ListingRange{Listing: listing, Owner: owner, Store: StoreIndex, Prefix: p, End: PrefixEnd(p), RecordStore: records, first: p}, nil
}

// Start is the key a page starts from: every listed key after the id after
// ("" for the first page) is greater than it, and it is never a key itself
// (ids hold no zero byte, and no id is empty).
func (r *ListingRange) Start(after string) []byte {
	if after == "" {
		return bytes.Clone(r.first)
	}
	return append(append(bytes.Clone(r.Prefix), after...), 0)
}

// ID returns the listed id of a key in the range ("" if the key is not).
func (r *ListingRange) ID(key []byte) string {
	if !bytes.HasPrefix(key, r.Prefix) || bytes.Compare(key, r.first) <= 0 || (r.End != nil && bytes.Compare(key, r.End) >= 0) {
		return ""
	}
	return string(key[len(r.Prefix):])
}

// Governance keys:
//
//	meta   gov/next-id                                   next proposal id (decimal)
//	meta   proposal/<id 20 digits>                       Proposal JSON
//	meta   gov/end/<voting end 20 digits>/<id 20 digits>  "1" while voting
//	meta   gov/exec/<effective 20 digits>/<id 20 digits>  "1" while in notice
//	index  validator/<key hex>                           agency id that holds (or held) the validator key
//	index  reserved/<key hex>                            id of the open agency-add proposal whose admin key it is

var keyGovNextID = []byte("gov/next-id")

const (
	proposalPrefix = "proposal/"
	govEndPrefix   = "gov/end/"
	govExecPrefix  = "gov/exec/"
)

// ProposalKey is the meta key of a proposal.
func ProposalKey(id uint64) []byte { return fmt.Appendf(nil, "%s%020d", proposalPrefix, id) }

// ProposalPrefix is the meta key prefix of every proposal.
func ProposalPrefix() []byte { return []byte(proposalPrefix) }

// IndexReserved is the index key of an officer key reserved by an open
// agency-add proposal (value: the proposal id).
func IndexReserved(key []byte) []byte { return []byte(reservedPrefix + hex.EncodeToString(key)) }

// reservedPrefix is the index key prefix of every reserved officer key.
const reservedPrefix = "reserved/"

// IndexValidator maps a validator key to the agency that holds or held it:
// a consensus key is never reused.
func IndexValidator(key []byte) []byte { return []byte("validator/" + hex.EncodeToString(key)) }

func govQueueKey(prefix string, height int64, id uint64) []byte {
	return fmt.Appendf(nil, "%s%020d/%020d", prefix, height, id)
}
