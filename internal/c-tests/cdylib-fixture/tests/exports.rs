//! Loads the `cdylib` that cargo built for this package and calls, through `dlopen`/`dlsym`,
//! every function `export_task!` and `export_error_handling_functions!` wrote into it: if a
//! macro's functions were not exported, the lookup fails.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::PathBuf;
use std::ptr::null_mut;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libloading::Library;

/// How long a test waits for a job before failing: generous, since valgrind runs this file
/// 50-100x slower (miri cannot load the cdylib, so it never runs here).
const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `attempt` until it returns `Some` and returns that value; panics once [`DEADLINE`]
/// has passed, instead of hanging the test. (rawtask's `tests/common` has the same helper.)
#[track_caller]
fn wait_for<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        if start.elapsed() >= DEADLINE {
            panic!("timed out after {DEADLINE:?} waiting for {what}");
        }
        std::thread::yield_now();
    }
}

/// The job type of `src/lib.rs`, as C sees it.
#[repr(C)]
struct Triangle {
    n: u64,
}

/// The library's functions, looked up once. The handle type is opaque to C, hence `c_void`.
struct Api {
    spawn: unsafe extern "C" fn(*const Triangle) -> *mut c_void,
    poll: unsafe extern "C" fn(*mut c_void) -> *mut u64,
    try_poll: unsafe extern "C" fn(*mut c_void, *mut *mut u64) -> c_int,
    wait: unsafe extern "C" fn(*mut c_void) -> *mut u64,
    cancel: unsafe extern "C" fn(*mut c_void),
    cancelled: unsafe extern "C" fn(*mut c_void) -> c_int,
    handle_destroy: unsafe extern "C" fn(*mut c_void),
    result_destroy: unsafe extern "C" fn(*mut u64),
    last_error_length: extern "C" fn() -> c_int,
    last_error_length_utf16: extern "C" fn() -> c_int,
    error_message_utf8: unsafe extern "C" fn(*mut c_char, c_int) -> c_int,
    error_message_utf16: unsafe extern "C" fn(*mut u16, c_int) -> c_int,
    clear_last_error: extern "C" fn(),
    /// rawtask's own name, exported from the dependency without any macro.
    rawtask_last_error_length: extern "C" fn() -> c_int,
}

/// `librawtask_cdylib_fixture.so` (or the platform's name for it), built beside this test.
fn library_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let name = format!(
        "{}rawtask_cdylib_fixture{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = exe.parent().unwrap().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: the library is this package's cdylib, whose initialisers only set up Rust's
        // runtime state. It is never unloaded (leaked below): its job threads and thread-locals
        // must outlive every call.
        let library = Box::leak(Box::new(unsafe { Library::new(library_path()) }.unwrap()));
        macro_rules! get {
            ($name:literal) => {
                // SAFETY: each symbol is looked up with the signature the macros give it (see
                // `export_task!`'s table and `export_error_handling_functions!`).
                *unsafe { library.get(concat!($name, "\0").as_bytes()) }
                    .unwrap_or_else(|e| panic!("`{}` is not exported: {e}", $name))
            };
        }
        Api {
            spawn: get!("triangle_spawn"),
            poll: get!("triangle_poll"),
            try_poll: get!("triangle_try_poll"),
            wait: get!("triangle_wait"),
            cancel: get!("triangle_cancel"),
            cancelled: get!("triangle_cancelled"),
            handle_destroy: get!("triangle_handle_destroy"),
            result_destroy: get!("triangle_result_destroy"),
            last_error_length: get!("last_error_length"),
            last_error_length_utf16: get!("last_error_length_utf16"),
            error_message_utf8: get!("error_message_utf8"),
            error_message_utf16: get!("error_message_utf16"),
            clear_last_error: get!("clear_last_error"),
            rawtask_last_error_length: get!("rawtask_last_error_length"),
        }
    })
}

/// The library's last error, read through its exported buffer functions, then cleared.
fn last_error(api: &Api) -> Option<String> {
    let length = (api.last_error_length)();
    if length == 0 {
        return None;
    }
    let mut buf = vec![0 as c_char; length as usize];
    // SAFETY: `buf` holds `length` bytes.
    let written = unsafe { (api.error_message_utf8)(buf.as_mut_ptr(), length) };
    assert_eq!(written, length);
    assert_eq!((api.last_error_length)(), length, "reading peeks");
    (api.clear_last_error)();
    assert_eq!((api.last_error_length)(), 0);
    // SAFETY: the copy is NUL-terminated.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned(),
    )
}

#[test]
fn spawn_and_poll_until_done() {
    let api = api();
    // SAFETY: every pointer passed is a live job, or a handle or result of these functions
    // not freed yet.
    unsafe {
        let handle = (api.spawn)(&Triangle { n: 1000 });
        assert!(!handle.is_null());
        assert_eq!((api.cancelled)(handle), 0);
        let result = wait_for("the triangle's result", || {
            (api.clear_last_error)();
            let result = (api.poll)(handle);
            if result.is_null() {
                assert_eq!(
                    last_error(api),
                    None,
                    "NULL without an error: still running"
                );
                return None;
            }
            Some(result)
        });
        assert_eq!(*result, 500_500);
        (api.result_destroy)(result);
        assert!((api.poll)(handle).is_null());
        assert_eq!(
            last_error(api).as_deref(),
            Some("the task's result has already been taken")
        );
        (api.handle_destroy)(handle);

        let result = (api.wait)((api.spawn)(&Triangle { n: 4 }));
        assert_eq!(*result, 10);
        (api.result_destroy)(result);
    }
}

#[test]
fn a_failing_job_reports_through_the_exported_error_functions() {
    let api = api();
    // SAFETY: as above; the buffers hold the lengths passed with them.
    unsafe {
        let handle = (api.spawn)(&Triangle { n: 0 });
        let mut out: *mut u64 = null_mut();
        let status = wait_for("the failing triangle to finish", || {
            let status = (api.try_poll)(handle, &mut out);
            (status != rawtask::background::RAWTASK_BACKGROUND_PENDING).then_some(status)
        });
        assert_eq!(status, rawtask::background::RAWTASK_BACKGROUND_ERROR);
        assert!(out.is_null());
        let expected = "triangle: n must be positive";
        assert_eq!((api.last_error_length_utf16)(), expected.len() as c_int + 1);
        let mut wide = [0u16; 64];
        let written = (api.error_message_utf16)(wide.as_mut_ptr(), 64);
        assert_eq!(written, expected.len() as c_int + 1);
        assert_eq!(
            String::from_utf16(&wide[..expected.len()]).unwrap(),
            expected
        );
        assert_eq!(last_error(api).as_deref(), Some(expected));
        (api.handle_destroy)(handle);

        // No error: 0, and a usable buffer still gets a NUL.
        let mut buf = [b'x' as c_char; 4];
        assert_eq!((api.error_message_utf8)(buf.as_mut_ptr(), 4), 0);
        assert_eq!(buf[0], 0);
    }
}

#[test]
fn cancel_and_null_arguments() {
    let api = api();
    // SAFETY: every pointer passed is null, a live job, or a handle of these functions not
    // freed yet.
    unsafe {
        let handle = (api.spawn)(&Triangle { n: u64::MAX });
        (api.cancel)(handle);
        assert_eq!((api.cancelled)(handle), 1);
        assert!((api.wait)(handle).is_null());
        assert_eq!(last_error(api).as_deref(), Some("The task was cancelled"));

        // ffi_helpers' `null_pointer_check!`: the last error, and NULL / 0 / nothing.
        assert!((api.spawn)(std::ptr::null()).is_null());
        assert_eq!(
            last_error(api).as_deref(),
            Some("a null pointer was passed as `task`")
        );
        assert_eq!((api.cancelled)(null_mut()), 0);
        assert_eq!(
            last_error(api).as_deref(),
            Some("a null pointer was passed as `handle`")
        );
        (api.handle_destroy)(null_mut());
        assert_eq!(
            last_error(api).as_deref(),
            Some("a null pointer was passed as `handle`")
        );
        (api.result_destroy)(null_mut());
        assert_eq!(
            last_error(api).as_deref(),
            Some("a null pointer was passed as `result`")
        );
    }
}

/// The library has its own copy of rawtask, hence its own last error: the test's copy (linked
/// for the status constants) never sees the library's errors.
#[test]
fn the_library_keeps_its_own_last_error() {
    let api = api();
    rawtask::capi::clear_last_error();
    // SAFETY: null is a valid argument.
    assert!(unsafe { (api.wait)(null_mut()) }.is_null());
    assert_eq!(rawtask::capi::last_error_length(), 0);
    let length = (api.last_error_length)();
    assert!(length > 0);
    assert_eq!(
        (api.rawtask_last_error_length)(),
        length,
        "one last error, two names"
    );
    assert!(last_error(api).is_some());
}
