package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/export"
	"github.com/civicledger/civicledger/ledger/verify"
)

// flagGenesis names the genesis file of an offline verification.
const flagGenesis = "genesis"

const verifyReleaseHelp = `verify a release written by 'ledger export' offline: no node is contacted.
the only thing trusted is the genesis file (--genesis; default: the one
'ledger trust init --genesis' stored for the release's chain under --home).
the checks, in order:

  manifest           manifest.json is a release manifest this verifier reads
  genesis, chain id  the release was made for this genesis file and chain
  first block        the chain's first header is signed by more than 2/3 of
                     the genesis validators' power
  header chain       each further light block follows from the previous one,
                     the last being header H+1 as the manifest names it
                     (signed by more than 2/3 of its validators' power)
  files              the directory holds exactly the files the manifest
                     lists, each with its sha256
  records            every page of proof/pages.jsonl is proved complete
                     against the AppHash of header H+1 (ICS23 proofs: nothing
                     left out, every record proved), and the proved records,
                     mapped again, give every exported file byte for byte
  manifest contents  the manifest is the one those give, byte for byte

a changed byte in any file fails, naming the file. the last line of the
output is VERIFIED or FAILED; -o json prints the report (steps of {step, ok,
detail}, the failed one last; result; error).

exit status: 0 verified; 1 verification failed (the failing step and file
are named); 2 the directory or the genesis file cannot be read, or usage
error.`

// releaseOutput is the JSON output of 'ledger verify release'.
type releaseOutput struct {
	Release       string          `json:"release"`
	Genesis       string          `json:"genesis"`
	GenesisSHA256 string          `json:"genesis_sha256"`
	ChainID       string          `json:"chain_id,omitempty"`
	Height        int64           `json:"height,omitempty"` // state height H
	Header        *export.Header  `json:"header,omitempty"` // header H+1, once verified
	Signers       []verify.Signer `json:"signers,omitempty"`
	SignedPower   int64           `json:"signed_power,omitempty"`
	TotalPower    int64           `json:"total_power,omitempty"`
	Records       *export.Counts  `json:"records,omitempty"`
	Files         []export.File   `json:"files,omitempty"`
	Steps         []verify.Step   `json:"steps"`
	Result        string          `json:"result"`
	FailedStep    string          `json:"failed_step,omitempty"`
	FailedFile    string          `json:"failed_file,omitempty"`
	Error         string          `json:"error,omitempty"`
}

func newVerifyReleaseCmd(g *globalOpts) *cobra.Command {
	var genesisPath string
	cmd := &cobra.Command{
		Use:   "release DIR",
		Short: "verify an open-data release ('ledger export') offline, from the genesis file alone",
		Long:  verifyReleaseHelp,
		Args:  keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		dir := args[0]
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usagef("%s is not a directory", dir)
		}
		gp := genesisPath
		if !cmd.Flags().Changed(flagGenesis) {
			var m struct {
				ChainID string `json:"chain_id"`
			}
			bz, _ := os.ReadFile(filepath.Join(dir, export.ManifestFile))
			_ = json.Unmarshal(bz, &m)
			p, err := client.GenesisPath(g.Home, m.ChainID)
			if err != nil {
				return usagef("required flag --genesis FILE not set (the release names no usable chain id)")
			}
			if _, err := os.Stat(p); err != nil {
				return usagef("required flag --genesis FILE not set (and no trusted genesis of chain %s in %s)", m.ChainID, client.TrustDir(g.Home))
			}
			gp = p
		}
		doc, sum, err := client.LoadGenesisFile(gp)
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("--genesis: %w", err))
		}
		rep, verr := export.VerifyRelease(dir, doc, sum, time.Now())
		out := &releaseOutput{Release: dir, Genesis: gp, GenesisSHA256: sum, Steps: rep.Steps, Result: resultVerified,
			Header: rep.Header, Signers: rep.Signers, SignedPower: rep.Signed, TotalPower: rep.Total, Records: rep.Records, Files: rep.Files}
		if rep.Manifest != nil {
			out.ChainID, out.Height = rep.Manifest.ChainID, rep.Manifest.Height
		}
		if verr != nil {
			out.Result, out.Error = resultFailed, verr.Error()
			var re *export.ReleaseError
			if errors.As(verr, &re) {
				out.FailedStep = re.Step
			}
			var fe *export.FileError
			if errors.As(verr, &fe) {
				out.FailedFile = fe.File
			}
			verr = withExit(exitFailed, fmt.Errorf("release %s: verification FAILED: %w", dir, verr))
		}
		return writeReport(cmd.OutOrStdout(), g.Output, out, printReleaseReport, verr)
	}
	cmd.Flags().StringVar(&genesisPath, flagGenesis, "", "the chain's genesis `FILE` (default: the trusted one under --home for the release's chain)")
	return cmd
}

func printReleaseReport(w io.Writer, out *releaseOutput) error {
	kv := newKV(w)
	kv.add("release", "%s", out.Release)
	kv.add("genesis", "%s (sha256 %s)", out.Genesis, out.GenesisSHA256)
	if out.ChainID != "" {
		kv.add("release says", "chain %s, state height %d (checked below)", sanitize(out.ChainID), out.Height)
	}
	if err := kv.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	kv = newKV(w)
	for _, s := range out.Steps {
		if s.OK {
			kv.add(s.Name, "ok    %s", s.Detail)
		} else {
			kv.add(s.Name, "FAIL  %s", sanitize(s.Detail))
		}
	}
	if err := kv.flush(); err != nil {
		return err
	}
	if out.Result == resultVerified && out.Header != nil {
		fmt.Fprintln(w)
		kv = newKV(w)
		var names []string
		for _, s := range out.Signers {
			n := s.Address
			if s.Name != "" {
				n = s.Name
			}
			names = append(names, n)
		}
		kv.add(fmt.Sprintf("header %d", out.Header.Height), "%s at %s, signed by %s (%d of %d voting power)", out.Header.Hash, out.Header.Time,
			strings.Join(names, ", "), out.SignedPower, out.TotalPower)
		if r := out.Records; r != nil {
			kv.add("records", "%d agencies, %d grants, %d licences, %d payments, as the chain holds them at state height %d", r.Agencies, r.Grants, r.Licences, r.Payments, out.Height)
		}
		for i, f := range out.Files {
			k := ""
			if i == 0 {
				k = "files"
			}
			kv.add(k, "%s (sha256 %s)", f.Path, f.SHA256)
		}
		if err := kv.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, out.Result)
	return err
}
