// The console's login: a form for the site's users and for API tokens
// (the agent's VIGIL_TOKEN, a token block's; a site without users logs in
// with a token only). POST /v1/login sets an HttpOnly session cookie that every request of the page then carries: its
// fetches, the push channel and the live WebSockets), the user's name and a
// logout button in the header, and the form again whenever the API answers
// 401 (the session expired or ended). The page is not reloaded: app.js
// starts the console after a login and stops it at a logout.

// session asks the server who the page's cookie belongs to: {user, login}
// (GET /v1/session; login says whether the site has users at all: without,
// the form asks only for a token).
export async function session() {
  const resp = await fetch('/v1/session', {cache: 'no-store'});
  if (!resp.ok) throw new Error(`GET /v1/session: ${resp.status}`);
  return resp.json();
}

// onLogin is what a successful login starts: the console, with the user.
let onLogin = () => {};

// setup wires the form and the logout button: a login calls loggedIn with
// the user, a logout calls loggedOut once the server ended the session.
// users says whether the site has users (the form asks for a user name and
// password too).
export function setup(loggedIn, loggedOut, users) {
  onLogin = loggedIn;
  const form = document.getElementById('login');
  const error = form.querySelector('.error');
  form.querySelector('.insecure').hidden = window.isSecureContext;
  form.querySelector('.password').hidden = !users;
  form.onsubmit = async e => {
    e.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    error.textContent = '';
    const token = form.elements.token.value.trim();
    const login = token ? {token} : {user: form.elements.user.value, password: form.elements.password.value};
    try {
      const resp = await fetch('/v1/login', {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(login),
      });
      form.elements.password.value = '';
      form.elements.token.value = '';
      if (resp.ok) {
        hideLogin();
        onLogin((await resp.json()).user);
        return;
      }
      const msg = (await resp.json().catch(() => ({}))).error || resp.statusText;
      error.textContent = resp.status !== 401 ? msg[0].toUpperCase() + msg.slice(1) + '.' : token ? 'Wrong token.' : 'Wrong user name or password.';
      (token ? form.elements.token : form.elements.password).focus();
    } catch (err) {
      error.textContent = `The server cannot be reached: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  };
  document.querySelector('#user button').onclick = async () => {
    await fetch('/v1/logout', {method: 'POST'}).catch(() => {});
    loggedOut();
    showLogin();
  };
}

// showLogin shows the login form in place of the console, with a message.
export function showLogin(message) {
  user = null;
  const form = document.getElementById('login');
  document.body.classList.add('logged-out');
  document.getElementById('user').hidden = true;
  form.querySelector('.error').textContent = message || '';
  form.hidden = false;
  (form.querySelector('.password').hidden ? form.elements.token : form.elements.user).focus();
}

function hideLogin() {
  document.body.classList.remove('logged-out');
  document.getElementById('login').hidden = true;
}

// user is the logged-in user ({name, role, cameras}), null without a login.
export let user = null;

// mayReadEvents says whether the logged-in user may read the events (an
// operator or admin).
export function mayReadEvents() {
  return user?.role === 'operator' || user?.role === 'admin';
}

// eventsRefused is what the console shows in place of the events for a
// viewer.
export const eventsRefused = 'Events need the operator role.';

// showUser puts the logged-in user and the logout button in the header.
export function showUser(u) {
  user = u;
  const el = document.getElementById('user');
  el.querySelector('.name').textContent = `${u.name} (${u.role})`;
  el.hidden = false;
}

// recheck asks the server whether the session still holds after a stream
// broke, and shows the form if it ended.
export async function recheck(loggedOut) {
  try {
    const s = await session();
    if (!s.user && !document.body.classList.contains('logged-out')) {
      loggedOut();
      showLogin('Your session ended: log in again.');
    }
  } catch {
    // The server is away: the connection badge says so.
  }
}

// watchFetches shows the form when any request of the page is answered
// 401 (the session expired while the page was open).
export function watchFetches(loggedOut) {
  const fetch = window.fetch;
  window.fetch = async (...args) => {
    const resp = await fetch(...args);
    if (resp.status === 401 && !String(args[0]).startsWith('/v1/login')) recheck(loggedOut);
    return resp;
  };
}
