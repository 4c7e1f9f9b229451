package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/atomicfile"
	"github.com/civicledger/civicledger/ledger/verify"
)

// exportTimeout bounds an export (waiting for header H+1 included: on a
// quiet chain it comes with the next heartbeat block).
const exportTimeout = 2 * time.Minute

const proofHelp = `offline evidence bundles: a record, a total or a transaction together with
everything needed to check it without any node, from the chain's genesis file
alone: the light blocks (signed headers and validator sets) from the chain's
first block to the headers the proof rests on, and the node's answers with
their proofs, verbatim.

'ledger proof export' verifies online first (from your trust root, which must
be the genesis file: 'ledger trust init --genesis FILE'), then writes the
bundle. 'ledger verify bundle FILE --genesis genesis.json' checks it offline.`

const exportHelp = `verify KIND ID online (like 'ledger verify') and write an evidence bundle to
FILE (JSON), checkable offline by anyone with the genesis file:

  ledger verify bundle FILE --genesis genesis.json

for a record or a total, the bundle holds the abci_query answer for its key
at state height H (--height; 0: the latest) with its ICS23 proof, and the
light blocks from the chain's first block to header H+1. an absent record
gives a bundle proving its absence. for a tx: the tx with its Merkle proof,
the results of its block H, the acting agency's record at H-1, and headers
up to H+1.

-o FILE is --out FILE here: on this command -o names the bundle file, not
the output format (the summary is text). an existing FILE is not replaced
unless --force is given; the bundle is written whole or not at all.

exit status: 0 written; 1 verification failed (bad proof, signature or hash,
fork, conflict with a header verified before) or the node has no such
height; 2 usage error, no trust root, a checkpoint trust root, no such tx
(or the node keeps no tx index), FILE exists (without --force) or cannot be
written; 3 the node could not be reached, or no answer within 2 minutes.`

func newProofCmd(g *globalOpts) *cobra.Command {
	export := groupCmd("export", "export an offline evidence bundle of a record, a total or a transaction",
		newExportRecordCmd(g, verify.KindGrant), newExportRecordCmd(g, verify.KindLicence),
		newExportRecordCmd(g, verify.KindPayment), newExportRecordCmd(g, verify.KindAgency),
		newExportTotalCmd(g), newExportTxCmd(g))
	export.Long = exportHelp
	p := groupCmd("proof", "offline evidence bundles: export them, verify them without a node", export)
	p.Long = proofHelp
	return p
}

// exportFlags are the flags of a proof export command.
type exportFlags struct {
	verifyFlags // --height, --witness, and their checks, as for verify
	out         string
	output      string
	force       bool // overwrite an existing bundle file
}

// register adds the flags. -o/--output is the root's persistent output
// format flag (text|json); here it is redefined as a local flag naming the
// bundle file. cobra merges a parent's persistent flags into a command's
// flag set only where the command has no flag of that name (pflag
// AddFlagSet skips names already defined), so on these commands -o and
// --output parse into o.output, never into globalOpts.Output, which keeps
// its default "text": the root's PersistentPreRunE check (text|json) does
// not see the file name. (A local --out with shorthand -o would instead
// panic: pflag refuses a shorthand used by two flags of one set.)
func (o *exportFlags) register(cmd *cobra.Command, height bool) {
	fs := cmd.Flags()
	fs.StringVar(&o.out, "out", "", "write the bundle to `FILE`")
	fs.StringVarP(&o.output, flagOutput, "o", "", "same as --out `FILE` (on this command -o names the bundle file, not the output format)")
	fs.BoolVar(&o.force, "force", false, "overwrite the bundle file if it exists")
	o.verifyFlags.register(fs, height)
}

// file returns the bundle file named by --out or -o/--output.
func (o *exportFlags) file(cmd *cobra.Command) (string, error) {
	f, err := outPath(cmd, "out", o.out, o.output, outTarget{"the bundle file", "FILE", "write a file named", "a file"})
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(filepath.Dir(f)); err != nil || !st.IsDir() {
		return "", usagef("--out %s: directory %s does not exist", f, filepath.Dir(f))
	}
	if st, err := os.Stat(f); err == nil && st.IsDir() {
		return "", usagef("--out %s is a directory", f)
	} else if err == nil && !o.force {
		return "", usagef("--out %s exists: pass --force to overwrite it, or name another file", f)
	}
	return f, nil
}

// newExportCmd is an export command taking nargs arguments; run gets its
// flags. height says whether it has --height (a record's or a total's
// bundle).
func newExportCmd(use, short string, nargs int, height bool, run func(cmd *cobra.Command, o *exportFlags, args []string) error) *cobra.Command {
	o := &exportFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  exportHelp,
		Args:  keysArgs(nargs),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return run(cmd, o, args) }
	o.register(cmd, height)
	return cmd
}

func newExportRecordCmd(g *globalOpts, kind string) *cobra.Command {
	return newExportCmd(kind+" ID -o FILE", "export an evidence bundle of one "+kind+" (or of its absence)", 1, true,
		func(cmd *cobra.Command, o *exportFlags, args []string) error {
			return runExportRecord(cmd, g, o, kind, args[0])
		})
}

func newExportTotalCmd(g *globalOpts) *cobra.Command {
	return newExportCmd("total AGENCY CURRENCY -o FILE", "export an evidence bundle of an agency's running totals in one currency", 2, true,
		func(cmd *cobra.Command, o *exportFlags, args []string) error {
			agency, cur := args[0], args[1]
			if err := checkTotalsArgs(agency, cur); err != nil {
				return err
			}
			return runExportRecord(cmd, g, o, verify.KindTotal, verify.TotalID(agency, cur))
		})
}

func runExportRecord(cmd *cobra.Command, g *globalOpts, o *exportFlags, kind, id string) error {
	st, key, err := verify.RecordLocation(kind, id)
	if err != nil {
		return usagef("%v", err)
	}
	return runExport(cmd, g, o, func(ctx context.Context, v *client.Verifier) (*verify.Bundle, error) {
		return v.ExportRecord(ctx, st, key, o.height, kind, id)
	})
}

func newExportTxCmd(g *globalOpts) *cobra.Command {
	return newExportCmd("tx HASH -o FILE", "export an evidence bundle of a transaction: inclusion, result, signers", 1, false,
		func(cmd *cobra.Command, o *exportFlags, args []string) error {
			hash, ok := parseTxHash(args[0])
			if !ok {
				return usagef("tx hash %q: want 64 hex digits", args[0])
			}
			return runExport(cmd, g, o, func(ctx context.Context, v *client.Verifier) (*verify.Bundle, error) {
				return v.ExportTx(ctx, hash)
			})
		})
}

// runExport checks the flags and names the bundle file, then connects a
// verifier, exports, writes the bundle and prints a summary.
func runExport(cmd *cobra.Command, g *globalOpts, o *exportFlags, export func(context.Context, *client.Verifier) (*verify.Bundle, error)) error {
	if err := o.check(); err != nil {
		return err
	}
	file, err := o.file(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), exportTimeout)
	defer cancel()
	v, err := newVerifier(ctx, g, o.witnesses)
	if err != nil {
		return exportExit(err)
	}
	if v.NoIndependentWitness {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+noWitnessWarning)
	}
	b, err := export(ctx, v)
	if err != nil {
		return exportExit(err)
	}
	bz, err := b.Marshal()
	if err != nil {
		return withExit(exitFailed, fmt.Errorf("encode the bundle: %w", err))
	}
	if err := writeBundle(file, bz, o.force); err != nil {
		return withExit(exitUsage, fmt.Errorf("write the bundle: %w", err))
	}
	return printExportSummary(cmd.OutOrStdout(), file, len(bz), b)
}

// writeBundle writes bz to file whole or not at all (0644 less the umask: a
// bundle is public evidence); an existing file is replaced only if
// overwrite, also if it appeared while the bundle was being made.
func writeBundle(file string, bz []byte, overwrite bool) error {
	err := atomicfile.Write(file, bz, 0o644, overwrite)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: pass --force to overwrite it", file)
	}
	return err
}

// exportExit maps an export error to an exit status by its outcome
// (client.ExportOutcomeOf).
func exportExit(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	switch client.ExportOutcomeOf(err) {
	case client.Exported:
		return nil
	case client.ExportUnavailable:
		return withExit(exitUsage, err)
	case client.ExportFailed:
		return withExit(exitFailed, err)
	}
	return withExit(exitUnreachable, err)
}

func printExportSummary(w io.Writer, file string, size int, b *verify.Bundle) error {
	m := &b.Manifest
	kv := newKV(w)
	kv.add("bundle", "%s (%d bytes)", file, size)
	kv.add("kind", "%s", m.Kind)
	kv.add("id", "%s", m.ID)
	kv.add("chain_id", "%s", m.ChainID)
	if m.Kind == verify.KindTx {
		kv.add("height", "%d (block; its results are committed in header %d)", m.Height, m.Height+1)
		kv.add("result", "code %d", b.Tx.TxResult.Code)
	} else {
		kv.add("store", "%s, key %q", m.Store, m.Key)
		kv.add("height", "%d (state; proved against header %d)", m.Height, m.Height+1)
		if len(b.Query.Response.Value) > 0 {
			kv.add("record", "present")
		} else {
			kv.add("record", "ABSENT (the bundle proves it does not exist at height %d)", m.Height)
		}
	}
	hs := make([]string, len(b.LightBlocks))
	for i, lb := range b.LightBlocks {
		hs[i] = fmt.Sprint(lb.Height)
	}
	kv.add("light_blocks", "%d (heights %s)", len(b.LightBlocks), strings.Join(hs, ", "))
	kv.add("genesis_sha256", "%s", m.GenesisSHA256)
	for i, p := range m.Proves {
		k := ""
		if i == 0 {
			k = "proves"
		}
		kv.add(k, "%s", p)
	}
	kv.add("check with", "ledger verify bundle %s --genesis GENESIS.json", file)
	return kv.flush()
}

// ---- ledger verify bundle ----

const verifyBundleHelp = `verify an evidence bundle ('ledger proof export') offline: no node is
contacted. the only thing trusted is the genesis file (--genesis; default:
the one 'ledger trust init --genesis' stored for the bundle's chain under
--home). the checks, in order:

  format        the bundle's format and parts
  genesis       the genesis file's sha256 is the one the bundle names
  chain id      the bundle's chain is the genesis file's
  first block   the chain's first header is signed by more than 2/3 of the
                genesis validators' power
  header chain  each further header follows from the previous one (signed
                by the validator set the previous announced, or by more than
                1/3 of its power and more than 2/3 of its own)
  headers       the headers the proof needs are among them
  records:      query (the answer is for the bundle's key and height H) and
                store proof (ICS23 proofs against the AppHash of header H+1)
  txs:          tx inclusion (Merkle proof under DataHash of header H),
                agency record (at H-1, against header H), tx result (the
                block's results hash to LastResultsHash of header H+1 and
                give the code the tx claims), signatures (the agency's
                officers, with the role the tx type needs)

the last line of the output is VERIFIED, VERIFIED ABSENT for a record the
bundle proves does not exist, or FAILED; -o json prints the report, in the
shape of 'ledger verify -o json' (steps of {step, ok, detail}, the failed one
last; result; error).

exit status: 0 verified; 1 verification failed (the failing step is named);
2 the bundle or the genesis file cannot be read, or usage error.`

// Results of a bundle verification (the last line of the text output).
const (
	bundleVerified = "VERIFIED"
	bundleAbsent   = "VERIFIED ABSENT"
)

// bundleOutput is the JSON output of 'ledger verify bundle': the shape of
// the online verify commands' report where they share fields (steps of
// {step, ok, detail}, the failed one last; result; error), with the
// bundle's verified facts and unverified context in report.
type bundleOutput struct {
	Bundle        string        `json:"bundle"`
	Genesis       string        `json:"genesis"`
	GenesisSHA256 string        `json:"genesis_sha256"`
	Steps         []verify.Step `json:"steps"`
	// Result is VERIFIED or VERIFIED ABSENT (exit 0), or FAILED (exit 1),
	// as for 'ledger verify'.
	Result     string `json:"result"`
	FailedStep string `json:"failed_step,omitempty"`
	Error      string `json:"error,omitempty"`
	// Report holds the verified facts ("verified") apart from what the
	// bundle states that nothing covers ("unverified"); on failure it has
	// no facts.
	Report *bundleReportOut `json:"report"`

	manifest verify.Manifest
}

// bundleReportOut is a verify.BundleReport without its steps (in
// bundleOutput.Steps).
type bundleReportOut struct {
	Outcome      string `json:"outcome,omitempty"`
	verify.Facts `json:"verified"`
	Unverified   verify.Unverified `json:"unverified"`
}

func newVerifyBundleCmd(g *globalOpts) *cobra.Command {
	var genesisPath string
	cmd := &cobra.Command{
		Use:   "bundle FILE",
		Short: "verify an evidence bundle offline, from the genesis file alone",
		Long:  verifyBundleHelp,
		Args:  keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		file := args[0]
		bz, err := os.ReadFile(file)
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("read the bundle: %w", err))
		}
		b, err := verify.ParseBundle(bz)
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("%s: %w", file, err))
		}
		gp := genesisPath
		if !cmd.Flags().Changed("genesis") {
			p, err := client.GenesisPath(g.Home, b.Manifest.ChainID)
			if err != nil {
				return usagef("required flag --genesis FILE not set (the bundle names no usable chain id)")
			}
			gp = p
			if _, err := os.Stat(gp); err != nil {
				return usagef("required flag --genesis FILE not set (and no trusted genesis of chain %s in %s)", b.Manifest.ChainID, client.TrustDir(g.Home))
			}
		}
		doc, sum, err := client.LoadGenesisFile(gp)
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("--genesis: %w", err))
		}
		rep, verr := verify.VerifyBundle(b, doc, sum, time.Now())
		out := &bundleOutput{Bundle: file, Genesis: gp, GenesisSHA256: sum, manifest: b.Manifest, Steps: rep.Steps, Result: rep.Outcome,
			Report: &bundleReportOut{Outcome: rep.Outcome, Facts: rep.Facts, Unverified: rep.Unverified}}
		if verr != nil {
			out.Result = resultFailed
			out.Error = verr.Error()
			if n := len(rep.Steps); n > 0 && !rep.Steps[n-1].OK {
				out.FailedStep = rep.Steps[n-1].Name
			}
			verr = withExit(exitFailed, fmt.Errorf("bundle %s: verification FAILED: %w", file, verr))
		}
		return writeReport(cmd.OutOrStdout(), g.Output, out, printBundleReport, verr)
	}
	cmd.Flags().StringVar(&genesisPath, "genesis", "", "the chain's genesis `FILE` (default: the trusted one under --home for the bundle's chain)")
	return cmd
}

func printBundleReport(w io.Writer, out *bundleOutput) error {
	rep, m := out.Report, &out.manifest
	kv := newKV(w)
	kv.add("bundle", "%s", out.Bundle)
	kv.add("genesis", "%s (sha256 %s)", out.Genesis, out.GenesisSHA256)
	kv.add("bundle says", "%s %s on chain %s at height %d (checked below)", sanitize(m.Kind), sanitize(m.ID), sanitize(m.ChainID), m.Height)
	if err := kv.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	kv = newKV(w)
	for _, s := range out.Steps {
		if s.OK {
			kv.add(s.Name, "ok    %s", s.Detail)
		} else {
			kv.add(s.Name, "FAIL  %s", s.Detail)
		}
	}
	if err := kv.flush(); err != nil {
		return err
	}
	if rep.Outcome != "" {
		fmt.Fprintln(w)
		kv = newKV(w)
		for _, h := range rep.Headers {
			var names []string
			for _, s := range h.Signers {
				n := s.Address
				if s.Name != "" {
					n = s.Name
				}
				names = append(names, n)
			}
			kv.add(fmt.Sprintf("header %d", h.Height), "%s at %s, signed by %s", h.Hash, h.Time, strings.Join(names, ", "))
		}
		if m.Kind == verify.KindTx && rep.Tx != nil {
			t := rep.Tx
			kv.add("tx", "%s: tx %d of block %d", t.Hash, t.Index, t.Height)
			if t.Type != "" {
				kv.add("type", "%s by %s", t.Type, t.Agency)
				kv.add("payload", "%s", string(t.Payload))
			}
			for i, s := range t.Signers {
				k := ""
				if i == 0 {
					k = "signers"
				}
				kv.add(k, "%s %s (%s)", orDash(s.Name), hexToB64(s.PubKey), roleList(s.Roles))
			}
			if t.Code == 0 {
				kv.add("result", "code 0 (success)")
			} else {
				kv.add("result", "code %d: REJECTED by the chain (%s)", t.Code, ruleOf(t.Code))
			}
		} else if rep.Present {
			kv.add("value", "%s", compactJSON(rep.Value))
		}
		for i, c := range rep.Claims {
			k := ""
			if i == 0 {
				k = "proves"
			}
			kv.add(k, "%s", c)
		}
		if err := kv.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		kv = newKV(w)
		u := rep.Unverified
		kv.add("not verified", "%s", u.Note)
		kv.add("created", "%s (stated by the exporter, not verified)", orDash(sanitize(u.Created)))
		kv.add("tool", "%s (stated by the exporter, not verified)", orDash(sanitize(u.Tool)))
		if m.Kind == verify.KindTx {
			kv.add("log", "%s (the node's word, not verified)", orDash(sanitize(u.Log)))
			kv.add("events", "%d (not covered by LastResultsHash, not verified: the effects above come from the verified tx bytes)", len(u.Events))
		}
		if err := kv.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, out.Result)
	return err
}

// compactJSON returns JSON on one line, in its own key order.
func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}
