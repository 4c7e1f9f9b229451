package ledger

import (
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

// IndexGrantByAgency is the index key of a grant under its agency.
func IndexGrantByAgency(agency, id string) []byte {
	return []byte("grant/agency/" + agency + "/" + id)
}

// IndexLicenceByAgency is the index key of a licence under its agency.
func IndexLicenceByAgency(agency, id string) []byte {
	return []byte("licence/agency/" + agency + "/" + id)
}

// IndexPaymentByAgency is the index key of a payment under its agency.
func IndexPaymentByAgency(agency, id string) []byte {
	return []byte("payment/agency/" + agency + "/" + id)
}

// IndexPaymentByGrant is the index key of a payment under its grant.
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
	return []byte("total/" + agency + "/" + currency)
}

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
