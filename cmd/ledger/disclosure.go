package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/atomicfile"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
)

// Natural persons: --individual on the commands that name a party, and the
// agency's disclosure store (<home>/disclosures) behind "ledger disclosure"
// and "ledger verify disclosure" (docs/privacy.md).

const flagIndividual = "individual"

// individualFlags are --individual, --individual-label and
// --individual-region of a command whose party may be a natural person.
type individualFlags struct {
	on            bool
	label, region string
}

func (f *individualFlags) register(fs *pflag.FlagSet, who string) {
	fs.BoolVar(&f.on, flagIndividual, false, "the "+who+" is a natural person: the chain receives only a salted commitment to the name, scheme and id, and a public label; the salt and identity are kept, sealed, in the disclosure store under --home")
	fs.StringVar(&f.label, "individual-label", "Individual "+who, "with --individual, the public label the record shows instead of a name")
	fs.StringVar(&f.region, "individual-region", "", "with --individual, an optional public region (never an address)")
}

// openDisclosures opens the disclosure store in g.Home/disclosures, sealed
// with the key store's backend (and passphrase source). Prompts go to
// prompts.
func openDisclosures(g *globalOpts, prompts io.Writer) (*client.Disclosures, error) {
	dir := filepath.Join(g.Home, "disclosures")
	ks, err := keystore.Open(dir, keystore.Backend(g.KeyringBackend), keystore.PassphraseFromEnvOrTerminal(os.Stdin, prompts))
	if err != nil {
		return nil, err
	}
	if keysScryptWorkFactor != 0 {
		if err := ks.SetScryptWorkFactor(keysScryptWorkFactor); err != nil {
			return nil, err
		}
	}
	return client.OpenDisclosures(dir, ks)
}

// individualParty turns the clear party *target of a payload (kind, record
// id) into an individual before anything is signed: it draws a salt,
// computes the commitment and seals the salt and identity in the disclosure
// store, then leaves only the commitment and label in the payload. A
// payment with a grant whose recipient is an individual (grant != "")
// carries that grant's commitment instead; when the person's name, scheme
// and id are given as well, they must be the ones the store holds for it.
func (f *individualFlags) individualParty(ctx context.Context, cmd *cobra.Command, g *globalOpts, c *client.Client,
	kind ledger.Kind, id, grant string, target *ledger.Party) error {
	if !f.on {
		return nil
	}
	store, err := openDisclosures(g, cmd.ErrOrStderr())
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("disclosure store: %w", err))
	}
	rec := client.RecordRef{Kind: kind, ID: id}
	clearParty := *target
	*target = ledger.Party{} // from here on, never the clear identity
	if grant != "" {
		gr, _, err := c.Grant(ctx, grant, 0)
		if err != nil {
			return nodeError(err)
		}
		if in := gr.Recipient.Individual; in != nil {
			if clearParty.Name != "" {
				disc, err := store.Disclose(in.Commitment)
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("grant %s: the recipient's identity cannot be checked (%v); omit --payee-name, --payee-scheme and --payee-id to pay the grant's recipient", grant, err))
				}
				if disc.Identity != (ledger.Identity{Scheme: clearParty.Scheme, ID: clearParty.ID, Name: clearParty.Name}) {
					return usagef("the payee is not the individual recipient of grant %s", grant)
				}
			}
			label, region := in.Label, in.Region
			if cmd.Flags().Changed("individual-label") {
				label = f.label
			}
			if cmd.Flags().Changed("individual-region") {
				region = f.region
			}
			*target = ledger.Party{Individual: &ledger.Individual{Commitment: in.Commitment, Label: label, Region: region}}
			if err := store.AddRecord(in.Commitment, rec); err != nil && !errors.Is(err, client.ErrNoDisclosure) {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "payee: the individual recipient of grant %s (commitment %s)\n", grant, in.Commitment)
			return nil
		}
	}
	if clearParty.Name == "" || clearParty.Scheme == "" || clearParty.ID == "" {
		return usagef("--%s needs the person's name, scheme and id (they stay in the disclosure store; the chain receives a commitment)", flagIndividual)
	}
	party, disc, err := client.NewIndividual(ledger.Identity{Scheme: clearParty.Scheme, ID: clearParty.ID, Name: clearParty.Name}, f.label, f.region)
	if err != nil {
		return err
	}
	if err := store.Save(disc, f.label, rec); err != nil {
		return fmt.Errorf("disclosure store: %w", err)
	}
	*target = party
	fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: an individual, commitment %s; the salt and identity are sealed in the disclosure store\n", kind, id, disc.Commitment)
	return nil
}

// requiredParty is the flags a command needs for its party who: the name,
// scheme and id, except for the payee of a payment against an individual's
// grant (--individual with --grant), which may be the grant's.
func requiredParty(cmd *cobra.Command, who string, individual bool) []string {
	if individual && who == "payee" && cmd.Flags().Changed("grant") {
		return nil
	}
	return []string{who + "-name", who + "-scheme", who + "-id"}
}

// ---- ledger disclosure ----

func newDisclosureCmd(g *globalOpts) *cobra.Command {
	c := groupCmd("disclosure", "natural persons: disclose a recorded person's identity to an auditor, or erase it",
		newDisclosureExportCmd(g), newDisclosureEraseCmd(g))
	c.Long = "a natural person (--individual) is recorded on chain only as a salted commitment\n" +
		"and a public label. the salt and the identity are kept, sealed like the officers'\n" +
		"keys, in the disclosure store under --home (disclosures/).\n\n" +
		"'ledger disclosure export' writes them, with the records that carry the\n" +
		"commitment, to a file for an auditor, who checks it with 'ledger verify\n" +
		"disclosure'. 'ledger disclosure erase' destroys them: nothing on chain changes,\n" +
		"and every proof, total and export stays valid."
	return c
}

func newDisclosureExportCmd(g *globalOpts) *cobra.Command {
	var o exportFlags
	cmd := &cobra.Command{
		Use:   "export COMMITMENT|RECORD-ID",
		Short: "write a person's salt, identity and records to a file for an auditor",
		Long: "write the disclosure of a commitment (64 hex digits) or of the record that\n" +
			"carries it: salt, identity (scheme, id, name) and the records, as JSON, to\n" +
			"--out FILE (mode 0600). the file identifies the person: hand it to the\n" +
			"auditor over a channel fit for personal data.\n\n" +
			"exit status: 0 written; 1 nothing is held for it, or it was erased; 2 usage.",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		file, err := o.file(cmd)
		if err != nil {
			return err
		}
		store, err := openDisclosures(g, cmd.ErrOrStderr())
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("disclosure store: %w", err))
		}
		disc, err := store.Disclose(args[0])
		if errors.Is(err, client.ErrNoDisclosure) || errors.Is(err, client.ErrErased) {
			return withExit(exitFailed, err)
		}
		if err != nil {
			return err
		}
		var buf strings.Builder
		if err := writeJSON(&buf, disc); err != nil {
			return err
		}
		if err := atomicfile.Write(file, []byte(buf.String()), 0o600, o.force); err != nil {
			return err
		}
		kv := newKV(cmd.OutOrStdout()) // -o names the file here: the output is text
		kv.add("file", "%s", file)
		kv.add("commitment", "%s", disc.Commitment)
		for _, r := range disc.Records {
			kv.add("record", "%s", r.String())
		}
		return kv.flush()
	}
	fs := cmd.Flags()
	fs.StringVar(&o.out, "out", "", "write the disclosure to `FILE`")
	fs.StringVarP(&o.output, flagOutput, "o", "", "same as --out `FILE` (on this command -o names the file, not the output format)")
	fs.BoolVar(&o.force, "force", false, "overwrite the file if it exists")
	return cmd
}

func newDisclosureEraseCmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "erase COMMITMENT|RECORD-ID",
		Short: "destroy a person's salt and identity (erasure); nothing on chain changes",
		Long: "destroy the salt and identity behind a commitment (or the record that carries\n" +
			"it): the sealed file is overwritten and removed. what remains is public\n" +
			"already: the commitment, the label and the record ids. nothing on chain\n" +
			"changes: the records, their proofs, the totals and the exports stay valid,\n" +
			"and nobody can tell any more whom the commitment names. disclosure files\n" +
			"exported before stay valid wherever they were sent.\n\n" +
			"exit status: 0 erased (or erased before); 1 nothing is held for it; 2 usage.",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		store, err := openDisclosures(g, cmd.ErrOrStderr())
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("disclosure store: %w", err))
		}
		idx, err := store.Erase(args[0])
		if errors.Is(err, client.ErrNoDisclosure) {
			return withExit(exitFailed, err)
		}
		if err != nil {
			return err
		}
		if g.Output == "json" {
			return writeJSON(cmd.OutOrStdout(), idx)
		}
		kv := newKV(cmd.OutOrStdout())
		kv.add("commitment", "%s", idx.Commitment)
		kv.add("erased", "%s", idx.Erased)
		for _, r := range idx.Records {
			kv.add("record", "%s", r.String())
		}
		kv.add("remains", "%s", "the commitment, the label and the record ids (public already); nothing on chain changed")
		return kv.flush()
	}
	return cmd
}

// ---- ledger verify disclosure ----

func newVerifyDisclosureCmd(g *globalOpts) *cobra.Command {
	o := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "disclosure FILE",
		Short: "check an agency's disclosure of a natural person against proved records",
		Long: "check a disclosure file ('ledger disclosure export'): the salt and identity it\n" +
			"holds give its commitment (sha256 of \"civic-ledger/individual/v1\\n\", the salt\n" +
			"and the identity), and each record it names is proved, at the latest state, to\n" +
			"carry that commitment (see 'ledger verify --help' for how). prints VERIFIED or\n" +
			"FAILED.\n\n" +
			"exit status: 0 verified; 1 the disclosure does not match (or a proof failed);\n" +
			"2 could not verify (usage, no trust root, network).",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		data, err := keystore.ReadFile(args[0], 1<<20)
		if err != nil {
			return usagef("%v", err)
		}
		disc, err := client.ParseDisclosure(data)
		if err != nil {
			return withExit(exitFailed, fmt.Errorf("verification FAILED: %s: %w", args[0], err))
		}
		out := &verifyOutput{Command: "disclosure", ID: disc.Commitment}
		return runVerify(cmd, g, o, out, func(ctx context.Context, v *client.Verifier) error {
			rep, err := v.VerifyDisclosure(ctx, disc)
			if rep != nil {
				out.Steps = append(out.Steps, rep.Steps...)
				if n := len(rep.Records); n > 0 && rep.Records[n-1].LightBlock != nil {
					r := rep.Records[n-1]
					hi := r.Header
					out.Height, out.Header, out.Witnesses = r.Height, &hi, r.Witnesses
				}
			}
			if err != nil {
				return err
			}
			out.text = func(w io.Writer) error {
				kv := newKV(w)
				kv.add("commitment", "%s", disc.Commitment)
				for _, r := range disc.Records {
					kv.add("record", "%s: carries the commitment", r.String())
				}
				var steps []client.Step // each check once, in order
				seen := map[string]bool{}
				for _, s := range out.Steps {
					if !seen[s.Name] {
						seen[s.Name] = true
						steps = append(steps, s)
					}
				}
				printChecks(kv, steps)
				return kv.flush()
			}
			return nil
		})
	}
	o.register(cmd.Flags(), false)
	return cmd
}
