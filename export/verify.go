package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// ReleaseReport is what VerifyRelease checked: the steps (the failed one
// last), and once the header verified, header H+1 and its signers; once
// everything verified, the records.
type ReleaseReport struct {
	Manifest *Manifest       `json:"-"`
	Steps    []verify.Step   `json:"steps"`
	Header   *Header         `json:"header,omitempty"`
	Signers  []verify.Signer `json:"signers,omitempty"`
	Signed   int64           `json:"signed_power,omitempty"`
	Total    int64           `json:"total_power,omitempty"`
	Records  *Counts         `json:"records,omitempty"`
	Files    []File          `json:"files,omitempty"`
}

func (r *ReleaseReport) ok(step, format string, args ...any) {
	r.Steps = append(r.Steps, verify.Step{Name: step, OK: true, Detail: fmt.Sprintf(format, args...)})
}

// maxPageLine bounds a line of the proof file: a page of ledger.MaxPageSize
// records with its proofs is about 320 KB; a hostile release must not make
// the verifier read an unbounded line.
const maxPageLine = 32 << 20

// maxManifest bounds the manifest (its light blocks grow with the changes
// of validator set, a few KB each).
const maxManifest = 64 << 20

// readLine reads a line of at most limit bytes (without its end).
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit {
			return nil, fmt.Errorf("a line longer than %d bytes", limit)
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// offlineSource reads the proved pages of a release's proof file in order
// and verifies each against the AppHash of the verified header H+1.
type offlineSource struct {
	r       *bufio.Reader
	h       int64
	appHash []byte
	pages   int64
}

func (s *offlineSource) fail(format string, args ...any) error {
	return &FileError{File: PagesFile, Err: fmt.Errorf("page %d: %s", s.pages+1, fmt.Sprintf(format, args...))}
}

func (s *offlineSource) page(listing, owner, after string) (*verify.Listing, error) {
	line, err := readLine(s.r, maxPageLine)
	if err == io.EOF && len(line) == 0 {
		return nil, s.fail("the file ends; the export read page of %s %q after %q next", listing, owner, after)
	}
	if err != nil && err != io.EOF {
		return nil, s.fail("%v", err)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	var p ledger.ProvedPage
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, s.fail("not a proved page: %v", err)
	}
	if canon, err := json.Marshal(&p); err != nil || !bytes.Equal(canon, line) {
		return nil, s.fail("not in the form the export writes")
	}
	if p.Height != s.h {
		return nil, s.fail("a page at height %d, the release is at %d", p.Height, s.h)
	}
	l, err := verify.VerifyListing(s.appHash, listing, owner, after, &p)
	if err != nil {
		return nil, &FileError{File: PagesFile, Err: fmt.Errorf("page %d (%s %q after %q): %w", s.pages+1, listing, owner, after, err)}
	}
	s.pages++
	return l, nil
}

// VerifyRelease checks the release in dir offline, trusting only the
// genesis file (doc, whose file has sha256 genesisSHA256):
//
//  1. manifest: manifest.json is a release manifest of this format;
//  2. genesis, chain id: it was made for this genesis file and chain;
//  3. first block: its first light block is the chain's first, signed by
//     more than 2/3 of the genesis validators' power;
//  4. header chain: each further light block follows from the previous
//     one (verify.Next, the era rule), the last being header H+1 with the
//     hash, time and AppHash the manifest names;
//  5. files: the directory holds exactly the files the manifest lists, each
//     with its sha256 and size;
//  6. records: every page of the proof file verifies against the AppHash
//     of header H+1 (nothing left out, every record proved), and the
//     records they hold, mapped again, give every exported file byte for
//     byte;
//  7. manifest contents: the manifest is the one those records, files and
//     light blocks give, byte for byte.
//
// Every failure is a *ReleaseError naming the step; when a file is at
// fault it wraps a *FileError naming it. The report is returned in both
// cases.
func VerifyRelease(dir string, doc *cmttypes.GenesisDoc, genesisSHA256 string, now time.Time) (rep *ReleaseReport, err error) {
	rep = &ReleaseReport{}
	step := StepManifest
	defer func() {
		if r := recover(); r != nil {
			err = &ReleaseError{Step: step, Err: fmt.Errorf("malformed release: %v", r)}
		}
		if err != nil {
			var re *ReleaseError
			if !errors.As(err, &re) {
				err = &ReleaseError{Step: step, Err: err}
			}
			rep.Steps = append(rep.Steps, verify.Step{Name: step, Detail: err.(*ReleaseError).Err.Error()})
		}
	}()
	manErr := func(format string, args ...any) error {
		return &FileError{File: ManifestFile, Err: fmt.Errorf(format, args...)}
	}

	// 1. manifest
	if st, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil && st.Size() > maxManifest {
		return rep, manErr("%d bytes, more than a manifest holds (%d)", st.Size(), maxManifest)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return rep, manErr("%v", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return rep, manErr("not a release manifest: %v", err)
	}
	rep.Manifest = &m
	if m.Format != ReleaseFormat || m.Kind != releaseKind {
		return rep, manErr("format %d kind %q; this verifier reads format %d kind %q", m.Format, m.Kind, ReleaseFormat, releaseKind)
	}
	formats, err := ParseFormats(m.Formats)
	if err != nil {
		return rep, manErr("%v", err)
	}
	rep.ok(StepManifest, "release format %d: %s at state height %d on chain %s", m.Format, strings.Join(formats, ", "), m.Height, m.ChainID)

	// 2. genesis, chain id
	step = StepGenesis
	if genesisSHA256 == "" || m.GenesisSHA256 != strings.ToLower(genesisSHA256) {
		return rep, manErr("the release was made for the genesis file with sha256 %s, this one has sha256 %s", m.GenesisSHA256, genesisSHA256)
	}
	rep.ok(step, "the genesis file's sha256 %s is the release's", m.GenesisSHA256)
	step = StepChainID
	if m.ChainID != doc.ChainID {
		return rep, manErr("the release is for chain %q, the genesis file for %q", m.ChainID, doc.ChainID)
	}
	rep.ok(step, "%s", doc.ChainID)

	// 3. first block
	step = StepFirstBlock
	var lbs []*cmttypes.LightBlock
	if err := cmtjson.Unmarshal(m.LightBlocks, &lbs); err != nil {
		return rep, manErr("light_blocks: %v", err)
	}
	if len(lbs) == 0 {
		return rep, manErr("no light blocks")
	}
	for i, lb := range lbs {
		if lb == nil || lb.SignedHeader == nil || lb.Header == nil || lb.Commit == nil || lb.ValidatorSet == nil {
			return rep, manErr("light_blocks[%d] is incomplete", i)
		}
	}
	if err := verify.FirstBlock(doc, lbs[0]); err != nil {
		return rep, manErr("%w", err)
	}
	names := map[string]string{}
	for _, v := range doc.Validators {
		names[v.Address.String()] = v.Name
	}
	rep.ok(step, "header %d %X signed by more than 2/3 of the %d genesis validators' power", lbs[0].Height, lbs[0].Hash(), len(doc.Validators))

	// 4. header chain
	step = StepHeaderChain
	for i := 1; i < len(lbs); i++ {
		if lbs[i].Height <= lbs[i-1].Height {
			return rep, manErr("light_blocks[%d] has height %d, not above %d", i, lbs[i].Height, lbs[i-1].Height)
		}
	}
	last, err := verify.Chain(lbs[0], lbs[1:], now)
	if err != nil {
		return rep, manErr("%w", err)
	}
	hdr := headerOf(last)
	if last.Height != m.Height+1 || hdr != m.Header {
		return rep, manErr("the verified header %d is %s (AppHash %s, time %s); the manifest names header %d %s (AppHash %s, time %s) for state height %d",
			hdr.Height, hdr.Hash, hdr.AppHash, hdr.Time, m.Header.Height, m.Header.Hash, m.Header.AppHash, m.Header.Time, m.Height)
	}
	rep.Header = &hdr
	rep.Signers = verify.CommitSigners(last.ValidatorSet, last.Commit, names)
	for _, s := range rep.Signers {
		rep.Signed += s.Power
	}
	rep.Total = last.ValidatorSet.TotalVotingPower()
	rep.ok(step, "%d light blocks verified in turn from the first block; header %d %s signed by %d of %d voting power; AppHash %s",
		len(lbs), hdr.Height, hdr.Hash, rep.Signed, rep.Total, hdr.AppHash)

	// 5. files
	step = StepFiles
	listed := map[string]File{}
	for _, f := range m.Files {
		if !validPath(f.Path) || f.Path == ManifestFile {
			return rep, manErr("file %q is not a path inside the release", f.Path)
		}
		listed[f.Path] = f
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case rel == ManifestFile:
			return nil
		case !d.Type().IsRegular():
			return &FileError{File: rel, Err: errors.New("not a regular file")}
		}
		if _, ok := listed[rel]; !ok {
			return &FileError{File: rel, Err: fmt.Errorf("not listed in %s", ManifestFile)}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	var pagesEntry *File
	for _, f := range m.Files {
		sum, n, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return rep, &FileError{File: f.Path, Err: fmt.Errorf("listed in %s, but: %v", ManifestFile, err)}
		}
		if sum != f.SHA256 || n != f.Bytes {
			return rep, &FileError{File: f.Path, Err: fmt.Errorf("sha256 %s (%d bytes), but %s lists sha256 %s (%d bytes)", sum, n, ManifestFile, f.SHA256, f.Bytes)}
		}
		if f.Path == PagesFile {
			pagesEntry = &f
		}
	}
	if pagesEntry == nil {
		return rep, manErr("no %s listed", PagesFile)
	}
	rep.ok(step, "%d files, each with the sha256 the manifest lists", len(m.Files))

	// 6. records
	step = StepRecords
	mt := &meta{chainID: m.ChainID, height: m.Height, published: last.Time, ocidPrefix: m.OCIDPrefix}
	files, counts, pages, err := checkRecords(dir, last.AppHash, mt, formats, selection{agency: m.Agency, fromHeight: m.FromHeight})
	if err != nil {
		return rep, err
	}
	rep.ok(step, "%d pages proved complete against AppHash %s; their %d agencies, %d grants, %d licences and %d payments give the %d exported files byte for byte",
		pages, hdr.AppHash, counts.Agencies, counts.Grants, counts.Licences, counts.Payments, len(files))

	// 7. manifest contents
	step = StepContents
	lbJSON, err := cmtjson.Marshal(lbs)
	if err != nil {
		return rep, manErr("light_blocks: %v", err)
	}
	files = append(files, *pagesEntry)
	sortFiles(files)
	want := &Manifest{Format: ReleaseFormat, Kind: releaseKind, ChainID: doc.ChainID, GenesisSHA256: strings.ToLower(genesisSHA256), Height: m.Height,
		Header: hdr, Agency: m.Agency, FromHeight: m.FromHeight, Formats: formats, OCIDPrefix: m.OCIDPrefix, Records: counts,
		Pages: pages, Files: files, LightBlocks: lbJSON}
	bz, err := want.Encode()
	if err != nil {
		return rep, err
	}
	if i := sameBytes(raw, bz); i >= 0 {
		return rep, manErr("%w: byte %d (line %d) differs from the manifest the verified release gives", ErrMismatch, i, bytes.Count(raw[:min(i, len(raw))], []byte("\n"))+1)
	}
	rep.ok(step, "the manifest is the one the verified light blocks, records and files give")
	rep.Records, rep.Files = &counts, files
	return rep, nil
}

// checkRecords verifies every page of the release's proof file against
// appHash, maps the records again and compares the result with the files
// of the formats byte for byte; it returns the files' entries.
func checkRecords(dir string, appHash []byte, m *meta, formats []string, sel selection) ([]File, Counts, int64, error) {
	pf, err := os.Open(filepath.Join(dir, filepath.FromSlash(PagesFile)))
	if err != nil {
		return nil, Counts{}, 0, &FileError{File: PagesFile, Err: err}
	}
	defer pf.Close()
	src := &offlineSource{r: bufio.NewReaderSize(pf, 1<<20), h: m.height, appHash: appHash}
	out := &fileSet{dir: dir, compare: true}
	sinks, err := newSinks(m, formats, out.open)
	if err != nil {
		out.close()
		return nil, Counts{}, 0, err
	}
	w := &walker{src: src, sel: sel, sinks: sinks}
	if err := w.run(); err != nil {
		out.close()
		return nil, Counts{}, 0, err
	}
	files, err := out.close()
	if err != nil {
		return nil, Counts{}, 0, err
	}
	if _, err := src.r.Peek(1); err == nil {
		return nil, Counts{}, 0, &FileError{File: PagesFile, Err: fmt.Errorf("holds more than the %d pages the export reads", src.pages)}
	}
	return files, w.counts, src.pages, nil
}

func validPath(p string) bool {
	return p != "" && !strings.HasPrefix(p, "/") && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".." && !strings.Contains(p, "\\")
}

func sortFiles(f []File) {
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j].Path < f[j-1].Path; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
}
