package portal

import (
	"fmt"
	"sort"
	"strings"
)

// catalogue is the portal's texts in one language, by key. Every text a
// page shows comes from here (record values aside): a translation is one
// more catalogue in catalogues, with the same keys.
type catalogue struct {
	lang  string
	texts map[string]string
}

// get returns the text of key, or the key itself when it has none (a
// test checks that every key the templates use has a text).
func (c catalogue) get(key string) string {
	if t, ok := c.texts[key]; ok {
		return t
	}
	return key
}

// getf formats the text of key with args.
func (c catalogue) getf(key string, args ...any) string {
	return fmt.Sprintf(c.get(key), args...)
}

// Languages lists the languages of the portal's texts.
func Languages() []string {
	out := make([]string, 0, len(catalogues))
	for l := range catalogues {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func textsFor(lang string) (catalogue, error) {
	if lang == "" {
		lang = "en"
	}
	t, ok := catalogues[lang]
	if !ok {
		return catalogue{}, fmt.Errorf("portal: no texts in language %q (have %s)", lang, strings.Join(Languages(), ", "))
	}
	return catalogue{lang: lang, texts: t}, nil
}

var catalogues = map[string]map[string]string{"en": english}

var english = map[string]string{
	"site.name":    "Civic Ledger",
	"site.tagline": "Public record of grants, licences and payments",
	"nav.label":    "Main",
	"nav.home":     "Home",
	"nav.search":   "Search",
	"nav.agencies": "Agencies",
	"nav.gov":      "Governance",
	"nav.verify":   "How to verify",
	"skip":         "Skip to content",
	"footer.read":  "Read from the ledger at block %d. This page shows what the node serves; see “How to verify” to check it yourself.",
	"footer.at":    "This page shows the ledger as it was at block %d: it will not change.",

	"home.title": "Public spending and licensing, recorded for everyone",
	"home.intro1": "Government agencies record the grants they award, the licences they issue and the payments they make " +
		"in this ledger. Every agency runs one of the computers that keep it, and each record is kept by all of them: " +
		"no single agency can change or hide a record once it is written.",
	"home.intro2": "Anyone can read every record here, download lists as spreadsheets, and check with free software " +
		"that what they read is what the agencies agreed on.",
	"home.latest":          "Latest changes",
	"home.latest.none":     "No records have been written yet.",
	"home.latest.noidx":    "This node keeps no transaction index, so the latest changes cannot be listed.",
	"home.totals":          "Totals per agency",
	"home.totals.cut":      "Totals are shown for the currencies found in the first %d records of an agency.",
	"home.chain":           "Ledger %s, latest block %d at %s.",
	"home.search":          "Search the records",
	"glossary":             "What the words mean",
	"term.grant":           "Grant",
	"term.grant.def":       "Money an agency decides to give to an organisation or person for a purpose, such as a community project. The grant records how much was awarded and how much has been paid out so far.",
	"term.licence":         "Licence",
	"term.licence.def":     "A permission an agency gives to an organisation or person to do something regulated, such as running a ferry, for a period of time.",
	"term.payment":         "Payment",
	"term.payment.def":     "Money an agency has paid out, sometimes as part of a grant. Large payments must be approved by two officers.",
	"term.verified":        "Verified",
	"term.verified.def":    "Checked with cryptography against the ledger's first block, which the agencies publish. A verified record cannot have been changed by the computer that served it: you do not need to trust this website.",
	"term.block":           "Block",
	"term.block.def":       "A batch of changes the agencies agreed on together. Blocks are numbered from 1; a record's history names the block of each change.",
	"term.transaction":     "Transaction",
	"term.transaction.def": "One signed change to the ledger, such as awarding a grant. Each has a unique code (its hash).",

	"kind.grant":    "Grant",
	"kind.licence":  "Licence",
	"kind.payment":  "Payment",
	"kind.agency":   "Agency",
	"kind.proposal": "Proposal",
	"kinds.grant":   "Grants",
	"kinds.licence": "Licences",
	"kinds.payment": "Payments",

	"f.id":                "Identifier",
	"f.agency":            "Agency",
	"f.recipient":         "Recipient",
	"f.holder":            "Licence holder",
	"f.payee":             "Paid to",
	"f.party.id":          "Registered identifier",
	"f.programme":         "Programme",
	"f.purpose":           "Purpose",
	"f.awarded":           "Amount awarded",
	"f.disbursed":         "Paid out so far",
	"f.remaining":         "Not yet paid out",
	"f.payments":          "Number of payments",
	"f.currency":          "Currency",
	"f.period":            "Grant period",
	"f.decision":          "Date of the decision",
	"f.document":          "Fingerprint of the decision document (SHA-256)",
	"f.amendment":         "Fingerprint of the latest amendment (SHA-256)",
	"f.status":            "Status",
	"f.created":           "First recorded in block",
	"f.updated":           "Last changed in block",
	"f.licence_type":      "Type of licence",
	"f.scope":             "What it allows",
	"f.valid":             "Valid",
	"f.conditions":        "Fingerprint of the conditions document (SHA-256)",
	"f.renewal":           "Fingerprint of the latest renewal (SHA-256)",
	"f.amount":            "Amount",
	"f.date":              "Date paid",
	"f.grant":             "Paid under grant",
	"f.approved":          "Approved by",
	"f.name":              "Name",
	"f.jurisdiction":      "Jurisdiction",
	"f.power":             "Voting power",
	"f.validator":         "Validator key",
	"f.validator.addr":    "Validator address",
	"f.joined":            "Admitted in block",
	"f.removed":           "Removed in block",
	"f.officers":          "Officers",
	"f.officer.key":       "Officer's public key",
	"f.roles":             "Roles",
	"f.height":            "Block",
	"f.time":              "Time (UTC)",
	"f.tx":                "Transaction",
	"f.change":            "What changed",
	"f.reason":            "Reason",
	"f.type":              "Type",
	"f.result":            "Result",
	"f.signers":           "Signed by",
	"f.nonce":             "Nonce",
	"f.expires":           "Valid until block",
	"f.params":            "Proposed parameters",
	"f.payload":           "Content",
	"f.records":           "Records it changed",
	"f.from":              "From",
	"f.to":                "To",
	"f.grants.n":          "Grants",
	"f.paid":              "Paid",
	"f.paid_grant":        "Paid under grants",
	"f.payments.n":        "Payments",
	"f.reversed":          "Reversed",
	"f.title":             "Title",
	"f.kind":              "Kind of change",
	"f.legal":             "Legal basis",
	"f.proposer":          "Proposed by",
	"f.submitted":         "Proposed in block",
	"f.voting_end":        "Voting ends after block",
	"f.effective":         "Takes effect at block",
	"f.closed":            "Closed in block",
	"f.tally":             "Votes (voting power)",
	"f.votes":             "Votes",
	"f.vote":              "Vote",
	"tally":               "yes %d, no %d, abstain %d, of %d",
	"created":             "created",
	"none":                "none",
	"unknown.officer":     "unknown officer",
	"tx.ok":               "Accepted",
	"tx.rejected":         "Refused by the ledger (code %d): %s",
	"tx.block":            "Change made by the ledger itself at the start of the block",
	"amount.minor":        "Amounts in downloads are in the currency's smallest unit (for example cents).",
	"at.height":           "As it was at block %d.",
	"at.latest":           "See the latest version",
	"link.agency":         "All records of this agency",
	"link.permanent":      "Permanent link to this version",
	"history":             "History",
	"history.intro":       "Every change to this record, oldest first, with the block and time at which the agencies agreed on it.",
	"history.cut":         "Showing the latest %d of %d changes.",
	"history.noidx":       "This node keeps no transaction index, so the history cannot be shown.",
	"history.none":        "No changes found.",
	"grant.payments":      "Payments under this grant",
	"grant.payments.more": "More payments: see all payments of this grant",
	"grant.payments.none": "No payments have been made under this grant.",
	"download":            "Download",
	"download.csv":        "Download as CSV (spreadsheet)",
	"download.json":       "Download as JSON",

	"action.award":           "Grant awarded",
	"action.amend":           "Grant amended",
	"action.close":           "Closed",
	"action.revoke":          "Revoked",
	"action.disburse":        "Payment made under this grant",
	"action.reverse-payment": "A payment under this grant was reversed",
	"action.issue":           "Licence issued",
	"action.renew":           "Licence renewed",
	"action.suspend":         "Licence suspended",
	"action.reinstate":       "Licence reinstated",
	"action.expire":          "Licence expired",
	"action.record":          "Payment recorded",
	"action.reverse":         "Payment reversed",

	"verify.record":      "Check this record yourself",
	"verify.record.text": "This page shows what the ledger's computer serves. To check that it is exactly what the agencies signed, run:",
	"verify.record.more": "How to verify, step by step",
	"check.title":        "Verify in your browser",
	"check.intro":        "Your browser can check this page's evidence itself: it downloads the evidence bundle (the proofs and the agencies' signatures) and checks it with the ledger's own verifier, run in your browser. It trusts nothing but the genesis file, whose fingerprint it computes and shows: compare it with the fingerprint the agencies publish.",
	"check.genesis":      "This website says the fingerprint (SHA-256) of the ledger's genesis file is:",
	"check.nojs":         "Verifying in your browser needs JavaScript and WebAssembly, which are off or unavailable. You can download the evidence bundle and check it with the ledger program instead (below).",
	"check.unavailable":  "Verifying in your browser is not available on this website. You can download the evidence bundle and check it with the ledger program (below).",
	"check.button":       "Verify in my browser",
	"check.download":     "Download the evidence bundle",
	"check.offline":      "To check the bundle on your own computer, with the ledger program and the genesis file:",
	"check.checking":     "Checking the evidence…",
	"check.verified":     "The evidence holds: the agencies' validators signed exactly this, in a chain that starts from the genesis file shown below.",
	"check.absent":       "The evidence holds: the ledger had no such record at this block, as the agencies' validators signed it.",
	"check.failed":       "Verification FAILED: do not rely on what this page shows.",
	"check.reason":       "Reason",
	"check.height":       "Block",
	"check.time":         "Signed at",
	"check.signed":       "Signed by the validators of",
	"check.sum":          "Genesis fingerprint computed by your browser",
	"check.sum.match":    "the same as this website states; compare it with the one the agencies publish",
	"check.sum.differ":   "NOT the one this website states",
	"check.detail":       "Technical detail",
	"check.claims":       "What the evidence proves",
	"check.steps":        "The checks, in order",
	"check.unverified":   "Stated by the website, not verified",
	"check.nobundle":     "the website did not provide the evidence",
	"check.noload":       "the verifier could not be loaded",
	"check.unverifiable": "The ledger's computer gave answers that do not match the agencies' signatures: this website cannot make the evidence.",
	"check.step.ok":      "passed",
	"check.step.bad":     "FAILED",

	"status.awarded":    "Awarded",
	"status.amended":    "Awarded, then amended",
	"status.closed":     "Closed",
	"status.revoked":    "Revoked",
	"status.issued":     "Issued",
	"status.renewed":    "Renewed",
	"status.suspended":  "Suspended",
	"status.reinstated": "Reinstated",
	"status.expired":    "Expired",
	"status.recorded":   "Paid",
	"status.reversed":   "Reversed (cancelled)",
	"status.voting":     "Being voted on",
	"status.notice":     "Passed: public notice period",
	"status.executed":   "Passed and in effect",
	"status.rejected":   "Rejected",
	"status.failed":     "Passed but could not take effect",
	"status.any":        "Any status",

	"search.title":      "Search the records",
	"search.intro":      "Find grants, licences and payments by identifier, by name or registered identifier of the recipient, holder or payee, by programme, agency, status or date.",
	"search.kind":       "Kind of record",
	"search.q":          "Identifier, name or registered identifier",
	"search.q.hint":     "For example G-2026-001, a company name or a company number.",
	"search.agency.any": "Any agency",
	"search.programme":  "Programme or type of licence",
	"search.grant":      "Payments under grant",
	"search.dates":      "Date of the decision or payment",
	"search.date.hint":  "If your browser shows no calendar, write dates as YYYY-MM-DD.",
	"search.limit":      "Results per page",
	"search.submit":     "Search",
	"search.results":    "Results",
	"search.count":      "Records shown: %d. Records examined: %d.",
	"search.none":       "No record matches on this page of the search.",
	"search.cut":        "The search stopped after examining %d records, to keep the site fast for everyone. Continue to search the following records:",
	"search.next":       "Next page",
	"search.continue":   "Continue searching",
	"search.first":      "First page",
	"search.exact":      "Record with this identifier",
	"search.tx":         "This looks like a transaction code:",
	"search.baddate":    "Dates must be written as YYYY-MM-DD.",

	"agencies.title":        "Agencies",
	"agencies.intro":        "The government agencies that keep this ledger. Each runs a validator: a computer that checks and signs every block.",
	"agency.records":        "Latest records",
	"agency.totals":         "Totals per currency",
	"agency.totals.none":    "No amounts recorded yet.",
	"agency.signing":        "Validator's signing record",
	"agency.signing.intro":  "Whether this agency's validator signed each of the latest %d blocks. A validator that does not sign is offline or out of step.",
	"agency.signing.sum":    "Signed %d of the latest %d blocks.",
	"agency.signing.missed": "Did not sign blocks:",
	"signed":                "signed",
	"missed":                "not signed",
	"agency.removed":        "This agency was removed from the ledger; its records remain.",
	"agency.more":           "All %s of this agency",

	"tx.title":       "Transaction %s",
	"gov.title":      "Governance",
	"gov.intro":      "Changes to the ledger's rules and to the list of agencies are proposed by an agency and voted on by all of them. A proposal passes with more than two thirds of the voting power, then waits through a public notice period before it takes effect.",
	"gov.none":       "No proposals.",
	"proposal.title": "Proposal %d",

	"verify.title":        "How to verify a record yourself",
	"verify.intro":        "This website reads the ledger from one computer. You do not have to trust it: the free ledger program checks any record against the ledger's first block (its genesis), which the agencies publish, using the signatures of the agencies and cryptographic proofs.",
	"verify.step1":        "Install the ledger program (Go 1.26):",
	"verify.step2":        "Get the genesis file the agencies publish and check its fingerprint (SHA-256):",
	"verify.step3":        "Make it your starting point of trust:",
	"verify.step4":        "Verify a record, asking other agencies' computers (witnesses) whether they agree:",
	"verify.genesis":      "The fingerprint of this ledger's genesis file is:",
	"verify.genesis.file": "Download the genesis file",
	"verify.nogenesis":    "Ask the agencies for the genesis file and its fingerprint: they publish them.",
	"verify.nodeurl":      "NODE_URL is the address of an agency's computer (its RPC address), which the agencies publish; WITNESS_URL that of another agency.",
	"verify.means":        "When the program says the record is verified, the record you read is exactly the one the agencies signed in a block, and that block descends from the genesis you chose. A node that changed, hid or invented a record would be caught.",
	"verify.witnesses":    "Witnesses",
	"verify.witness.ok":   "agrees with this site at block %d",
	"verify.witness.bad":  "does not agree with this site, or could not be asked",
	"verify.chain":        "Ledger name (chain id): %s.",

	"err.notfound.title":    "Not found",
	"err.notfound":          "There is no such page or record. Check the identifier: identifiers are case-sensitive.",
	"err.height.title":      "Block not available",
	"err.height":            "The ledger's computer does not keep that block's state.",
	"err.badrequest.title":  "Bad request",
	"err.badrequest":        "The address of this page is not valid.",
	"err.unreachable.title": "Ledger temporarily unavailable",
	"err.unreachable":       "This website cannot reach the ledger right now. Nothing is lost: please try again in a few minutes.",
	"err.badgateway.title":  "Ledger error",
	"err.badgateway":        "The ledger's computer gave an answer this website cannot read. Please try again later.",
	"err.method.title":      "Not allowed",
	"err.method":            "This website is read-only.",
	"err.toolong.title":     "Request too long",
	"err.toolong":           "The address of this page is too long.",
	"err.home":              "Go to the home page",
}
