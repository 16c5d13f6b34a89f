// The access token lives in sessionStorage: it survives a reload of this tab and ends with it.

const TOKEN_KEY = 'windi.token';

export function savedToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token && !isExpired(token) ? token : null;
}

/** The token as stored, expired or not (the server decides). */
export function currentToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetSession() {
  sessionStorage.clear();
}

/** True when the token's `exp` has passed (with a few seconds to spare); false if it cannot tell. */
export function isExpired(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const { exp } = JSON.parse(atob(payload));
    return typeof exp === 'number' && exp * 1000 < Date.now() + 5000;
  } catch {
    return false;
  }
}
