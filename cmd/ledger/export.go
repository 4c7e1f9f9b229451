package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/export"
	"github.com/civicledger/civicledger/ledger"
)

// Flags of 'ledger export'.
const (
	flagExportAgency     = "agency"
	flagExportFromHeight = "from-height"
	flagExportOut        = "out"
	flagExportOCIDPrefix = "ocid-prefix"
	flagExportPageSize   = "page-size"
	flagExportHeight     = "height"
)

// openExportTimeout bounds a whole export; a large one is bounded by the
// context of the command only (interrupt to stop it).
const openExportTimeout = 24 * time.Hour

const openExportHelp = `export the ledger's records at one state height in open public-spending
data standards, with a signed release manifest that anyone can check offline
with the chain's genesis file:

  ocds        Open Contracting Data Standard 1.1: a release package and a
              record package (ocds/); grants, licences and payments that are
              not against a grant are contracting processes (an award and its
              contract), a grant's payments the implementation transactions
              of its contract
  360giving   360Giving 1.4: a grant package (360giving/grants.json), a
              grant's payments as its disbursement transactions
  iati        IATI 2.03: an activities file (iati/activities.xml), each
              grant an activity, its award an outgoing commitment, its
              payments disbursement transactions
  csv         one file per record kind (csv/agencies.csv, grants.csv,
              licences.csv, payments.csv), every field in a column
  all         every format

the field mapping, and what has no home in each standard, is in
docs/open-data.md.

every record is read from the provable listings at state height H (--height;
0: the state after the node's latest block, waiting for the next header), each page proved complete against the
AppHash of header H+1, verified from your trust root, which must be the
genesis file ('ledger trust init --genesis FILE'). DIR gets manifest.json
(chain id, H, header H+1 and its AppHash, the light blocks from the chain's
first block to header H+1 with their commits, and the sha256 of every file)
and proof/pages.jsonl (every proved page, in order). check it with

  ledger verify release DIR --genesis genesis.json

--agency exports one agency's records; --from-height only the records
updated at or after that height (an incremental export). DIR must not exist,
or be empty; it is written whole or not at all. -o DIR is --out DIR here. on
a terminal, progress (the agency being written, of how many, and the records
written) goes to stderr.

exit status: 0 written; 1 verification failed (a bad proof, signature or
hash, a fork), no such agency, or the node has no such height; 2 usage
error, no trust root or a checkpoint trust root, DIR not empty or not
usable; 3 the node could not be reached.`

// openExportFlags are the flags of 'ledger export'.
type openExportFlags struct {
	verifyFlags
	agency     string
	fromHeight int64
	out        string
	output     string
	ocidPrefix string
	pageSize   int
}

func newOpenExportCmd(g *globalOpts) *cobra.Command {
	o := &openExportFlags{}
	cmd := &cobra.Command{
		Use:   "export ocds|360giving|iati|csv|all... -o DIR",
		Short: "export records in open-data standards (OCDS, 360Giving, IATI, CSV) with a verifiable release manifest",
		Long:  openExportHelp,
		Args:  cobra.ArbitraryArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.agency, flagExportAgency, "", "export only this agency's records")
	fs.Int64Var(&o.fromHeight, flagExportFromHeight, 0, "export only records updated at or after this height")
	fs.StringVar(&o.out, flagExportOut, "", "write the release to `DIR`")
	// -o/--output names the directory here, as on 'proof export' (see
	// exportFlags.register).
	fs.StringVarP(&o.output, flagOutput, "o", "", "same as --out `DIR` (on this command -o names the directory, not the output format)")
	fs.StringVar(&o.ocidPrefix, flagExportOCIDPrefix, export.DefaultOCIDPrefix, "OCDS ocid prefix (register one with the Open Contracting Partnership)")
	fs.IntVar(&o.pageSize, flagExportPageSize, ledger.MaxPageSize, "records per proved listing page")
	fs.Int64Var(&o.height, flagExportHeight, 0, "state height H to export (0: the state after the latest block, waiting for header H+1)")
	o.verifyFlags.register(fs, false)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runOpenExport(cmd, g, o, args)
	}
	return cmd
}

// dir returns the directory named by --out or -o/--output.
func (o *openExportFlags) dir(cmd *cobra.Command) (string, error) {
	return outPath(cmd, flagExportOut, o.out, o.output, outTarget{"the directory", "DIR", "write to a directory named", "a directory"})
}

func runOpenExport(cmd *cobra.Command, g *globalOpts, o *openExportFlags, args []string) error {
	formats, err := export.ParseFormats(args)
	if err != nil {
		return usagef("%v", err)
	}
	if err := o.check(); err != nil {
		return err
	}
	switch {
	case o.agency != "" && !ledger.ValidID(o.agency):
		return usagef("--agency %q must match [A-Za-z0-9._:-]{1,64}", o.agency)
	case o.fromHeight < 0:
		return usagef("--from-height must not be negative")
	case o.height != 0 && o.fromHeight > o.height:
		return usagef("--from-height %d is above --height %d", o.fromHeight, o.height)
	case !strings.HasPrefix(o.ocidPrefix, "ocds-"):
		return usagef("--ocid-prefix %q must start with ocds-", o.ocidPrefix)
	case o.pageSize < 1 || o.pageSize > ledger.MaxPageSize:
		return usagef("--page-size must be between 1 and %d", ledger.MaxPageSize)
	}
	dir, err := o.dir(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), openExportTimeout)
	defer cancel()
	v, err := newVerifier(ctx, g, o.witnesses)
	if err != nil {
		return exportExit(err)
	}
	if v.NoIndependentWitness {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+noWitnessWarning)
	}
	progress := newProgress(cmd.ErrOrStderr())
	start := time.Now()
	man, err := export.Export(ctx, v, export.Options{
		Formats: formats, Agency: o.agency, FromHeight: o.fromHeight, Height: o.height, Dir: dir,
		OCIDPrefix: o.ocidPrefix, PageSize: o.pageSize, Home: g.Home, Progress: progress.update,
	})
	progress.done()
	if err != nil {
		return openExportExit(err)
	}
	return printOpenExport(cmd.OutOrStdout(), dir, man, time.Since(start))
}

// openExportExit maps an export error to an exit status.
func openExportExit(err error) error {
	var re *export.ReleaseError
	switch {
	case errors.Is(err, export.ErrDirNotEmpty), errors.Is(err, export.ErrBadOptions):
		return withExit(exitUsage, err)
	case errors.As(err, &re), errors.Is(err, client.ErrNotFound):
		return withExit(exitFailed, err)
	}
	return exportExit(err)
}

func printOpenExport(w io.Writer, dir string, m *export.Manifest, took time.Duration) error {
	kv := newKV(w)
	kv.add("release", "%s", dir)
	kv.add("formats", "%s", strings.Join(m.Formats, ", "))
	kv.add("chain_id", "%s", m.ChainID)
	kv.add("height", "%d (state; proved against header %d %s)", m.Height, m.Header.Height, m.Header.Hash)
	if m.Agency != "" {
		kv.add("agency", "%s", m.Agency)
	}
	if m.FromHeight != 0 {
		kv.add("from_height", "%d (records updated at or after it)", m.FromHeight)
	}
	r := m.Records
	kv.add("records", "%d agencies, %d grants, %d licences, %d payments", r.Agencies, r.Grants, r.Licences, r.Payments)
	secs := took.Seconds()
	if secs > 0 {
		kv.add("took", "%s (%.0f records/s)", took.Round(time.Millisecond), float64(r.Total())/secs)
	}
	for i, f := range m.Files {
		k := ""
		if i == 0 {
			k = "files"
		}
		kv.add(k, "%s (%d bytes, sha256 %s)", f.Path, f.Bytes, f.SHA256)
	}
	kv.add("check with", "ledger verify release %s --genesis GENESIS.json", dir)
	return kv.flush()
}

// progress prints the records written on stderr, when it is a terminal,
// at most a few times a second.
type progress struct {
	w    io.Writer
	last time.Time
	any  bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return &progress{}
	}
	return &progress{w: w}
}

func (p *progress) update(e export.Progress) {
	if p.w == nil || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.any = time.Now(), true
	c := e.Written
	fmt.Fprintf(p.w, "\ragency %d/%d (%s): %d records written (%d grants, %d licences, %d payments)\x1b[K",
		e.AgencyNo, e.Agencies, sanitize(e.Agency), c.Total(), c.Grants, c.Licences, c.Payments)
}

func (p *progress) done() {
	if p.any {
		fmt.Fprintln(p.w)
	}
}
