package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/civicledger/civicledger/internal/atomicfile"
	"github.com/civicledger/civicledger/ledger"
)

// Natural persons: the agency's side (privacy.go in package ledger has the
// chain's). When an agency records a person, NewIndividual draws a salt and
// computes the commitment the chain receives; the salt and the identity are
// kept in the agency's disclosure store (Disclosures), sealed like its
// officers' keys. A Disclosure exported from the store lets an auditor check
// (VerifyDisclosure) that the proved records commit to that person; Erase
// destroys the secret and leaves the chain as it was.

// DisclosureFormat is the format tag of a disclosure document.
const DisclosureFormat = "civic-ledger/disclosure/v1"

// Errors of the disclosure store and of VerifyDisclosure.
var (
	// ErrNoDisclosure: the store holds nothing for the commitment or
	// record id.
	ErrNoDisclosure = errors.New("no disclosure held for it")
	// ErrErased: the secret was erased; only the public index remains.
	ErrErased = errors.New("the salt and identity were erased")
	// ErrDisclosureMismatch: the salt and identity do not give the
	// commitment, or a proved record carries another commitment (or none).
	// VerdictOf calls it Failed.
	ErrDisclosureMismatch = errors.New("disclosure does not match")
)

// RecordRef names a record: its kind (grant, licence, payment) and id.
type RecordRef struct {
	Kind ledger.Kind `json:"kind"`
	ID   string      `json:"id"`
}

func (r RecordRef) String() string { return string(r.Kind) + " " + r.ID }

// Disclosure is the secret behind a commitment, and the records that carry
// it: what an agency hands an auditor (a file of this JSON), and what its
// store keeps sealed (without the records, which the public index lists).
type Disclosure struct {
	Format     string          `json:"format"`
	Commitment string          `json:"commitment"`
	Salt       string          `json:"salt"` // hex of SaltSize bytes
	Identity   ledger.Identity `json:"identity"`
	Records    []RecordRef     `json:"records,omitempty"`
}

// Check recomputes the commitment from the salt and the identity.
func (d *Disclosure) Check() error {
	if d.Format != DisclosureFormat {
		return fmt.Errorf("not a disclosure (format %q, want %q)", d.Format, DisclosureFormat)
	}
	salt, err := hex.DecodeString(d.Salt)
	if err != nil {
		return fmt.Errorf("%w: salt is not hex", ErrDisclosureMismatch)
	}
	c, err := ledger.IndividualCommitment(salt, d.Identity)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDisclosureMismatch, err)
	}
	if c != d.Commitment {
		return fmt.Errorf("%w: the salt and identity give commitment %s, not %s", ErrDisclosureMismatch, c, d.Commitment)
	}
	return nil
}

// disclosedKinds are the kinds of record whose party may be an individual.
var disclosedKinds = map[ledger.Kind]bool{ledger.KindGrant: true, ledger.KindLicence: true, ledger.KindPayment: true}

// ParseDisclosure reads a disclosure document.
func ParseDisclosure(data []byte) (*Disclosure, error) {
	var d Disclosure
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("malformed disclosure: %v", err)
	}
	if d.Format != DisclosureFormat {
		return nil, fmt.Errorf("not a disclosure (format %q, want %q)", d.Format, DisclosureFormat)
	}
	for _, r := range d.Records {
		if !disclosedKinds[r.Kind] || !ledger.ValidID(r.ID) {
			return nil, fmt.Errorf("malformed disclosure: record %q %q", r.Kind, r.ID)
		}
	}
	return &d, nil
}

// NewIndividual draws a fresh random salt for a person and returns the
// party the chain receives (commitment, label, region) and the disclosure
// to keep. The identity's fields must be set: an empty name or id would
// make the commitment easy to confirm.
func NewIndividual(id ledger.Identity, label, region string) (ledger.Party, *Disclosure, error) {
	if id.Name == "" || id.Scheme == "" || id.ID == "" {
		return ledger.Party{}, nil, errors.New("an individual's name, scheme and id must all be given")
	}
	salt := make([]byte, ledger.SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return ledger.Party{}, nil, err
	}
	c, err := ledger.IndividualCommitment(salt, id)
	if err != nil {
		return ledger.Party{}, nil, err
	}
	p := ledger.Party{Individual: &ledger.Individual{Commitment: c, Label: label, Region: region}}
	return p, &Disclosure{Format: DisclosureFormat, Commitment: c, Salt: hex.EncodeToString(salt), Identity: id}, nil
}

// PartyOf returns the party of a record's JSON: a grant's recipient, a
// licence's holder, a payment's payee.
func PartyOf(kind ledger.Kind, raw []byte) (ledger.Party, error) {
	var rec struct {
		Recipient *ledger.Party `json:"recipient"`
		Holder    *ledger.Party `json:"holder"`
		Payee     *ledger.Party `json:"payee"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return ledger.Party{}, err
	}
	p := map[ledger.Kind]*ledger.Party{ledger.KindGrant: rec.Recipient, ledger.KindLicence: rec.Holder, ledger.KindPayment: rec.Payee}[kind]
	if p == nil {
		return ledger.Party{}, fmt.Errorf("a %s record has no party", kind)
	}
	return *p, nil
}

// Sealer protects the secret documents of the disclosure store, as the
// agency's keys are protected (keystore.Store: age with a passphrase, or
// plain for the test backend).
type Sealer interface {
	Seal(plain []byte, prompt string) ([]byte, error)
	Unseal(data []byte, prompt, what string) ([]byte, error)
	SealedExt() string
}

// DisclosureIndex is the public part of a stored disclosure (no salt, no
// identity): which records carry the commitment, and when the secret was
// erased.
type DisclosureIndex struct {
	Commitment string      `json:"commitment"`
	Label      string      `json:"label"`
	Records    []RecordRef `json:"records"`
	Created    string      `json:"created"`
	Erased     string      `json:"erased,omitempty"` // RFC 3339, UTC
}

// Disclosures is an agency's disclosure store: a directory (mode 0700)
// holding, per commitment, <commitment><SealedExt> (the sealed salt and
// identity) and <commitment>.index.json (DisclosureIndex). Files are written
// atomically; a sealed file is never overwritten.
type Disclosures struct {
	dir    string
	sealer Sealer
}

// OpenDisclosures opens the disclosure store in dir, creating it.
func OpenDisclosures(dir string, s Sealer) (*Disclosures, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Disclosures{dir: dir, sealer: s}, nil
}

const indexExt = ".index.json"

func (d *Disclosures) sealedPath(c string) string {
	return filepath.Join(d.dir, c+d.sealer.SealedExt())
}
func (d *Disclosures) indexPath(c string) string { return filepath.Join(d.dir, c+indexExt) }

// Save seals and stores the secret of disc, and its index naming rec (the
// record about to carry the commitment) with the public label.
func (d *Disclosures) Save(disc *Disclosure, label string, rec RecordRef) error {
	if err := disc.Check(); err != nil {
		return err
	}
	secret := *disc
	secret.Records = nil
	plain, err := json.MarshalIndent(secret, "", "  ")
	if err != nil {
		return err
	}
	sealed, err := d.sealer.Seal(append(plain, '\n'), "passphrase to seal the disclosure of "+rec.String()+": ")
	clear(plain)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.sealedPath(disc.Commitment), sealed, 0o600, false); err != nil {
		return fmt.Errorf("disclosure store: %w", err)
	}
	idx := DisclosureIndex{Commitment: disc.Commitment, Label: label, Records: []RecordRef{rec}, Created: time.Now().UTC().Format(time.RFC3339)}
	return d.writeIndex(&idx)
}

func (d *Disclosures) writeIndex(idx *DisclosureIndex) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.indexPath(idx.Commitment), append(b, '\n'), 0o600, true); err != nil {
		return fmt.Errorf("disclosure store: %w", err)
	}
	return nil
}

// AddRecord lists rec (a payment against the person's grant, say) in the
// index of commitment c.
func (d *Disclosures) AddRecord(c string, rec RecordRef) error {
	idx, err := d.readIndex(c)
	if err != nil {
		return err
	}
	if !slices.Contains(idx.Records, rec) {
		idx.Records = append(idx.Records, rec)
	}
	return d.writeIndex(idx)
}

func (d *Disclosures) readIndex(c string) (*DisclosureIndex, error) {
	b, err := os.ReadFile(d.indexPath(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("commitment %s: %w", c, ErrNoDisclosure)
	}
	if err != nil {
		return nil, err
	}
	var idx DisclosureIndex
	if err := json.Unmarshal(b, &idx); err != nil || idx.Commitment != c {
		return nil, fmt.Errorf("disclosure store: %s is malformed", d.indexPath(c))
	}
	return &idx, nil
}

// Find returns the index of ref: a commitment (64 hex digits) or the id of
// a record that carries one (the first listed, in the order of the
// directory, if several commitments list it).
func (d *Disclosures) Find(ref string) (*DisclosureIndex, error) {
	if isCommitment(ref) {
		return d.readIndex(ref)
	}
	names, err := filepath.Glob(filepath.Join(d.dir, "*"+indexExt))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	for _, n := range names {
		c := strings.TrimSuffix(filepath.Base(n), indexExt)
		if !isCommitment(c) {
			continue
		}
		idx, err := d.readIndex(c)
		if err != nil {
			return nil, err
		}
		for _, r := range idx.Records {
			if r.ID == ref {
				return idx, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: %w", ref, ErrNoDisclosure)
}

func isCommitment(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Disclose returns the disclosure of ref (a commitment or a record id),
// unsealed, checked against its commitment, with the records of its index.
func (d *Disclosures) Disclose(ref string) (*Disclosure, error) {
	idx, err := d.Find(ref)
	if err != nil {
		return nil, err
	}
	if idx.Erased != "" {
		return nil, fmt.Errorf("commitment %s: %w on %s", idx.Commitment, ErrErased, idx.Erased)
	}
	sealed, err := os.ReadFile(d.sealedPath(idx.Commitment))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("commitment %s: %w", idx.Commitment, ErrErased)
	}
	if err != nil {
		return nil, err
	}
	plain, err := d.sealer.Unseal(sealed, "passphrase of the disclosure store: ", "disclosure "+idx.Commitment)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var disc Disclosure
	if err := json.Unmarshal(plain, &disc); err != nil {
		return nil, fmt.Errorf("disclosure %s: malformed", idx.Commitment)
	}
	if disc.Commitment != idx.Commitment {
		return nil, fmt.Errorf("disclosure store: %s holds commitment %s", d.sealedPath(idx.Commitment), disc.Commitment)
	}
	if err := disc.Check(); err != nil {
		return nil, err
	}
	disc.Records = append([]RecordRef(nil), idx.Records...)
	return &disc, nil
}

// Erase destroys the salt and the identity of ref (a commitment or a
// record id): the sealed file is overwritten with zeros and removed, and the
// index records when. What remains is public already: the commitment, the
// label and the ids of the records. Nothing on chain changes; the records,
// their proofs, the totals and the exports stay valid. Erasing again is
// not an error.
func (d *Disclosures) Erase(ref string) (*DisclosureIndex, error) {
	idx, err := d.Find(ref)
	if err != nil {
		return nil, err
	}
	p := d.sealedPath(idx.Commitment)
	if st, err := os.Stat(p); err == nil {
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			_, _ = f.Write(make([]byte, st.Size())) // best effort: the file is removed below
			_ = f.Sync()
			_ = f.Close()
		}
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("disclosure store: %w", err)
		}
		if err := atomicfile.SyncDir(d.dir); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if idx.Erased == "" {
		idx.Erased = time.Now().UTC().Format(time.RFC3339)
		if err := d.writeIndex(idx); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// DisclosureReport is the outcome of VerifyDisclosure: the commitment
// check, then each record proved and its commitment compared.
type DisclosureReport struct {
	Commitment string       `json:"commitment"`
	Records    []*KeyReport `json:"-"`
	Steps      []Step       `json:"steps"`
}

// VerifyDisclosure checks a disclosure as an auditor does, trusting no
// node: the salt and identity give the commitment, and each record it names
// is proved (VerifyRecord, at the latest state) to carry that commitment as
// its individual party. A mismatch is ErrDisclosureMismatch (Failed); a
// record proved absent is one too.
func (v *Verifier) VerifyDisclosure(ctx context.Context, d *Disclosure) (*DisclosureReport, error) {
	rep := &DisclosureReport{Commitment: d.Commitment}
	if err := d.Check(); err != nil {
		rep.Steps = append(rep.Steps, failStep("commitment", err))
		return rep, err
	}
	rep.Steps = append(rep.Steps, okStep("commitment", "sha256 of the domain tag, the salt and the identity is %s", d.Commitment))
	if len(d.Records) == 0 {
		err := fmt.Errorf("%w: the disclosure names no record", ErrDisclosureMismatch)
		rep.Steps = append(rep.Steps, failStep("records", err))
		return rep, err
	}
	for _, ref := range d.Records {
		r, _, err := v.VerifyRecord(ctx, ref.Kind, ref.ID, 0)
		if r != nil {
			rep.Records = append(rep.Records, r)
			rep.Steps = append(rep.Steps, r.Steps...)
		}
		if err != nil {
			return rep, err
		}
		if !r.Present {
			err := fmt.Errorf("%w: %s is proved absent at height %d", ErrDisclosureMismatch, ref, r.Height)
			rep.Steps = append(rep.Steps, failStep("disclosure", err))
			return rep, err
		}
		p, err := PartyOf(ref.Kind, r.Value)
		switch {
		case err != nil:
			err = fmt.Errorf("%w: %s: %v", ErrDisclosureMismatch, ref, err)
		case p.Individual == nil:
			err = fmt.Errorf("%w: %s names an organisation, not an individual", ErrDisclosureMismatch, ref)
		case p.Individual.Commitment != d.Commitment:
			err = fmt.Errorf("%w: %s carries commitment %s", ErrDisclosureMismatch, ref, p.Individual.Commitment)
		}
		if err != nil {
			rep.Steps = append(rep.Steps, failStep("disclosure", err))
			return rep, err
		}
		rep.Steps = append(rep.Steps, okStep("disclosure", "%s at state height %d carries commitment %s (%q)", ref, r.Height, d.Commitment, p.Individual.Label))
	}
	return rep, nil
}
