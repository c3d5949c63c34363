"""Linux utilities that neither faults nor backends own: entering namespaces, checking
processes."""
