// Package schematest validates exported files against the official
// schemas and codelists of OCDS 1.1.5, 360Giving 1.4.3 and IATI 2.03,
// vendored in export/testdata/schemas with their licences. It is for tests
// only: the export tests and the CLI's integration tests use it; it
// imports nothing of the project.
package schematest
