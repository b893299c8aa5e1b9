//! An in-memory metadata store, for tests and throwaway runs.
