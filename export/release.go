package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// ReleaseFormat is the version of the release layout and manifest this
// package writes and reads.
const ReleaseFormat = 1

// releaseKind is the manifest's kind.
const releaseKind = "release"

// ErrMismatch is wrapped when a file of a release is not what the proved
// records give.
var ErrMismatch = errors.New("does not match the proved records")

// FileError is a verification failure in one file of a release.
type FileError struct {
	File string // relative to the release directory
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ReleaseError is a failed step of a release's verification. It wraps a
// *FileError when one file is at fault.
type ReleaseError struct {
	Step string
	Err  error
}

func (e *ReleaseError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *ReleaseError) Unwrap() error { return e.Err }

// Steps of a release's verification, in order.
const (
	StepManifest    = "manifest"
	StepGenesis     = verify.StepGenesis
	StepChainID     = verify.StepChainID
	StepFirstBlock  = verify.StepFirstBlock
	StepHeaderChain = verify.StepHeaderChain
	StepFiles       = "files"
	StepRecords     = "records"
	StepContents    = "manifest contents"
)

// Header is header H+1 of a release, the one whose AppHash the records are
// proved against.
type Header struct {
	Height  int64  `json:"height"`
	Hash    string `json:"hash"`     // upper-case hex
	Time    string `json:"time"`     // RFC 3339, UTC
	AppHash string `json:"app_hash"` // upper-case hex
}

// Manifest describes a release: what it holds, at which height, the light
// blocks that prove header H+1 from the chain's first block, and the
// sha256 of every file. Everything in it is checked by VerifyRelease: the
// light blocks against the genesis file, the rest by rebuilding it from
// the proved records.
type Manifest struct {
	Format        int      `json:"format"`
	Kind          string   `json:"kind"`
	ChainID       string   `json:"chain_id"`
	GenesisSHA256 string   `json:"genesis_sha256"`
	Height        int64    `json:"height"` // state height H
	Header        Header   `json:"header"` // header H+1
	Agency        string   `json:"agency,omitempty"`
	FromHeight    int64    `json:"from_height,omitempty"`
	Formats       []string `json:"formats"`
	OCIDPrefix    string   `json:"ocid_prefix"`
	Records       Counts   `json:"records"`
	Pages         int64    `json:"pages"` // proved pages in PagesFile
	Files         []File   `json:"files"`
	// LightBlocks are the light blocks from the chain's first block to
	// header H+1 (verify.BundleChain), in CometBFT's JSON encoding; the
	// last one carries the commit of header H+1.
	LightBlocks json.RawMessage `json:"light_blocks"`
}

// Encode returns the manifest as written to manifest.json.
func (m *Manifest) Encode() ([]byte, error) {
	bz, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(bz, '\n'), nil
}

// Options are the parameters of an export.
type Options struct {
	Formats    []string // ParseFormats
	Agency     string   // "" every agency
	FromHeight int64    // only records updated at or after this height (0: all)
	Height     int64    // state height H (0: the latest block's, waiting for header H+1)
	Dir        string   // must not exist, or be empty
	OCIDPrefix string   // "" DefaultOCIDPrefix
	PageSize   int      // listing page size (0: ledger.MaxPageSize)
	// Home is the client home holding the trusted genesis file.
	Home string
	// Progress, if set, is called as records are written.
	Progress func(Progress)
}

func (o *Options) validate() error {
	if _, err := ParseFormats(o.Formats); err != nil {
		return err
	}
	switch {
	case o.Agency != "" && !ledger.ValidID(o.Agency):
		return fmt.Errorf("agency %q is not an id", o.Agency)
	case o.FromHeight < 0 || o.Height < 0:
		return errors.New("heights must not be negative")
	case o.Height != 0 && o.FromHeight > o.Height:
		return fmt.Errorf("from height %d is above the export's height %d", o.FromHeight, o.Height)
	case strings.TrimSpace(o.Dir) == "":
		return errors.New("no output directory")
	case o.OCIDPrefix != "" && !strings.HasPrefix(o.OCIDPrefix, "ocds-"):
		return fmt.Errorf("OCID prefix %q must start with ocds-", o.OCIDPrefix)
	}
	return nil
}

// fetchPage fetches one page of a listing at the export's height,
// unverified (client.Client.ListingPage).
type fetchPage func(listing, owner, after string) (*ledger.ProvedPage, error)

// liveSource fetches pages, verifies each against appHash (the AppHash of
// the verified header H+1) and writes it to the proof file.
type liveSource struct {
	fetch   fetchPage
	appHash []byte
	out     io.Writer
	pages   int64
}

func (s *liveSource) page(listing, owner, after string) (*verify.Listing, error) {
	p, err := s.fetch(listing, owner, after)
	if err != nil {
		return nil, err
	}
	l, err := verify.VerifyListing(s.appHash, listing, owner, after, p)
	if err != nil {
		return nil, fmt.Errorf("%s of %q after %q: %w", listing, owner, after, err)
	}
	line, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if _, err := s.out.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	s.pages++
	return l, nil
}

// writeRelease writes the files of a release (all but the manifest) into
// dir from pages fetched with fetch and proved against appHash.
func writeRelease(dir string, fetch fetchPage, appHash []byte, m *meta, formats []string, sel selection, progress func(Progress)) ([]File, Counts, int64, error) {
	fs := &fileSet{dir: dir}
	pw, err := fs.open(PagesFile)
	if err != nil {
		return nil, Counts{}, 0, err
	}
	src := &liveSource{fetch: fetch, appHash: appHash, out: pw}
	sinks, err := newSinks(m, formats, fs.open)
	if err != nil {
		fs.close()
		return nil, Counts{}, 0, err
	}
	w := &walker{src: src, sel: sel, sinks: sinks, progress: progress}
	if err := w.run(); err != nil {
		fs.close()
		return nil, Counts{}, 0, err
	}
	files, err := fs.close()
	return files, w.counts, src.pages, err
}

// releaseGenesis returns the trusted genesis file of the verifier's chain
// and its sha256; the trust root must be that file's first block.
func releaseGenesis(v *client.Verifier, home string) (*cmttypes.GenesisDoc, string, error) {
	if v.Trust == nil || v.Trust.GenesisSHA256 == "" {
		return nil, "", client.ErrCheckpointRoot
	}
	p, err := client.GenesisPath(home, v.ChainID)
	if err != nil {
		return nil, "", fmt.Errorf("trusted genesis file: %w", err)
	}
	doc, sum, err := client.LoadGenesisFile(p)
	if err != nil {
		return nil, "", fmt.Errorf("trusted genesis file: %w", err)
	}
	if sum != v.Trust.GenesisSHA256 {
		return nil, "", fmt.Errorf("trusted genesis file %s has sha256 %s, but %s was trusted", p, sum, v.Trust.GenesisSHA256)
	}
	if doc.ChainID != v.ChainID || v.Trust.Root.Height != doc.InitialHeight {
		return nil, "", client.ErrCheckpointRoot
	}
	return doc, sum, nil
}

// lightChain returns the light blocks from the chain's first block to lb,
// each verifiable from the previous (verify.BundleChain), with blocks in
// between where the validator set changed: ones the light client holds,
// else ones it verifies now.
func lightChain(ctx context.Context, v *client.Verifier, doc *cmttypes.GenesisDoc, lb *cmttypes.LightBlock, now time.Time) ([]*cmttypes.LightBlock, error) {
	first := v.Root()
	if err := verify.FirstBlock(doc, first); err != nil {
		return nil, err
	}
	return verify.BundleChain(first, []*cmttypes.LightBlock{lb}, func(lo, hi int64) (*cmttypes.LightBlock, error) {
		m := lo + (hi-lo)/2
		var best *cmttypes.LightBlock
		for _, b := range v.Verified(lo+1, hi-1) {
			if best == nil || absDiff(b.Height, m) < absDiff(best.Height, m) {
				best = b
			}
		}
		if best != nil {
			return best, nil
		}
		return v.LightBlock(ctx, m)
	}, now)
}

func absDiff(a, b int64) int64 {
	if a < b {
		return b - a
	}
	return a - b
}

func headerOf(lb *cmttypes.LightBlock) Header {
	return Header{Height: lb.Height, Hash: fmt.Sprintf("%X", lb.Hash()), Time: lb.Time.UTC().Format(time.RFC3339Nano),
		AppHash: fmt.Sprintf("%X", []byte(lb.AppHash))}
}

// newSinks opens the files of the formats.
func newSinks(m *meta, formats []string, open opener) ([]sink, error) {
	var out []sink
	for _, f := range formats {
		var s sink
		var err error
		switch f {
		case FormatOCDS:
			s, err = newOCDSSink(m, open)
		case FormatGiving:
			s, err = newGivingSink(m, open)
		case FormatIATI:
			s, err = newIATISink(m, open)
		case FormatCSV:
			s, err = newCSVSink(open)
		default:
			err = fmt.Errorf("unknown format %q", f)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Export reads the selected records at one height from v's primary node,
// each listing page proved complete against header H+1 verified from the
// trust root (which must be the genesis file's first block:
// client.ErrCheckpointRoot otherwise), writes them in the formats asked
// for with the proof material and the manifest into o.Dir (made whole or
// not at all), then verifies the written release as its readers will.
func Export(ctx context.Context, v *client.Verifier, o Options) (*Manifest, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOptions, err)
	}
	formats, _ := ParseFormats(o.Formats)
	if o.OCIDPrefix == "" {
		o.OCIDPrefix = DefaultOCIDPrefix
	}
	if o.PageSize <= 0 || o.PageSize > ledger.MaxPageSize {
		o.PageSize = ledger.MaxPageSize
	}
	if err := checkDir(o.Dir); err != nil {
		if errors.Is(err, ErrDirNotEmpty) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrBadOptions, err)
	}
	doc, sum, err := releaseGenesis(v, o.Home)
	if err != nil {
		return nil, err
	}
	// By default the state after the latest block L, proved by header
	// L+1: what was just recorded is in the export (waiting for the next
	// block).
	l, err := v.LatestBlock(ctx)
	if err != nil {
		return nil, err
	}
	h := o.Height
	switch {
	case h == 0:
		h = l
	case h > l:
		return nil, fmt.Errorf("%w: height %d is above the latest block %d", client.ErrNodeRefused, h, l)
	}
	if err := v.Primary.WaitForHeight(ctx, h+1); err != nil {
		return nil, err
	}
	if o.FromHeight > h {
		return nil, fmt.Errorf("%w: from height %d is above the export's height %d", ErrBadOptions, o.FromHeight, h)
	}
	lb, err := v.LightBlock(ctx, h+1)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	blocks, err := lightChain(ctx, v, doc, lb, now)
	if err != nil {
		return nil, err
	}
	lbJSON, err := cmtjson.Marshal(blocks)
	if err != nil {
		return nil, err
	}

	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(o.Dir)), "."+filepath.Base(filepath.Clean(o.Dir))+".tmp-")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	m := &meta{chainID: v.ChainID, height: h, published: lb.Time, ocidPrefix: o.OCIDPrefix}
	fetch := func(listing, owner, after string) (*ledger.ProvedPage, error) {
		p, err := v.Primary.ListingPage(ctx, listing, owner, after, o.PageSize, h)
		if err != nil && !errors.Is(err, verify.ErrProof) && ctx.Err() == nil {
			// The node answered with an error (a height it does not
			// keep), or did not answer: it refused if it still answers.
			if _, serr := v.Primary.Status(ctx); serr == nil {
				return nil, fmt.Errorf("%w: %v", client.ErrNodeRefused, err)
			}
		}
		return p, err
	}
	files, counts, pages, err := writeRelease(tmp, fetch, lb.AppHash, m, formats, selection{agency: o.Agency, fromHeight: o.FromHeight}, o.Progress)
	if err != nil {
		return nil, err
	}
	if o.Agency != "" && counts.Agencies == 0 {
		return nil, fmt.Errorf("%w: no agency %q at height %d", client.ErrNotFound, o.Agency, h)
	}
	man := &Manifest{Format: ReleaseFormat, Kind: releaseKind, ChainID: v.ChainID, GenesisSHA256: sum, Height: h, Header: headerOf(lb),
		Agency: o.Agency, FromHeight: o.FromHeight, Formats: formats, OCIDPrefix: o.OCIDPrefix, Records: counts, Pages: pages,
		Files: files, LightBlocks: lbJSON}
	bz, err := man.Encode()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), bz, 0o644); err != nil {
		return nil, err
	}
	if _, err := VerifyRelease(tmp, doc, sum, now); err != nil {
		return nil, fmt.Errorf("the release does not verify: %w", err)
	}
	_ = os.Remove(o.Dir) // an empty directory (checkDir)
	if err := os.Rename(tmp, o.Dir); err != nil {
		return nil, err
	}
	done = true
	return man, nil
}

// ErrDirNotEmpty is returned when the output directory holds files.
var ErrDirNotEmpty = errors.New("the output directory exists and is not empty")

// ErrBadOptions is wrapped by the errors of options that cannot be
// exported: a bad format, id or height, an output directory that cannot be
// used.
var ErrBadOptions = errors.New("bad export options")

// checkDir accepts a directory that does not exist (in an existing parent)
// or is empty.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if pst, err := os.Stat(filepath.Dir(filepath.Clean(dir))); err != nil || !pst.IsDir() {
			return fmt.Errorf("the parent of %s is not a directory", dir)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrDirNotEmpty)
	}
	return nil
}
