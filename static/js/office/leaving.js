// Signing out ends the browser session and revokes its tokens at once. The page stays for
// the moment the logout navigation takes, and a poll due or in flight then would meet the
// revoked token (a 401). So `leave` comes first: it aborts every call of the shell's modules
// in flight, and a call made after it never leaves the page. Such a call's promise never
// settles, as the page is going: no error shown, no retry scheduled.
const leaving = new AbortController();

export function leave() {
  leaving.abort();
}

export function left() {
  return leaving.signal.aborted;
}

// fetch, unless the person is signing out.
export async function request(url, init = {}) {
  if (leaving.signal.aborted) return new Promise(() => {});
  try {
    return await fetch(url, { ...init, signal: leaving.signal });
  } catch (error) {
    if (leaving.signal.aborted) return new Promise(() => {});
    throw error;
  }
}
