package ledger

// ClassifyDecodeError exposes classifyDecodeError to the external tests.
var ClassifyDecodeError = classifyDecodeError
