package rules

// ShowVariables returns s with every value a ${VAR} of the file expanded to
// replaced by ${VAR}: how a dry run shows a request built from secrets, the
// same way configuration errors name them.
func (f *File) ShowVariables(s string) string { return f.redactor.String(s) }
