package records

import "errors"

// CheckRouting reports, all at once, what a command lacks to be sent (see
// CommandCodec.EncodeCommand): a command id, its aggregate id (idField
// names it: it is the record key) and a type.
func CheckRouting(commandID, aggregateID, idField, typ string) error {
	var errs []error
	if commandID == "" {
		errs = append(errs, errors.New("command has no commandId"))
	}
	if aggregateID == "" {
		errs = append(errs, errors.New("command has no "+idField+" (the record key)"))
	}
	if typ == "" {
		errs = append(errs, errors.New("command has no type"))
	}
	return errors.Join(errs...)
}
