"""What the pages share: the shared choice and its widgets (choice), the model and its
profiles loaded with progress (common), the live pages' inputs (live_shared) and the
threshold explorer component. Beside pages/, not in it: only pages live there."""
