// Log in (POST /token) and create an account (POST /register, then log in).

import { byId } from './dom.js';

export function createAuthView({ api, onLoggedIn }) {
  const view = byId('auth-view');
  const loginForm = byId('login-form');
  const registerForm = byId('register-form');
  const loginError = byId('login-error');
  const registerError = byId('register-error');

  function showForm(form) {
    loginForm.hidden = form !== loginForm;
    registerForm.hidden = form !== registerForm;
    loginError.textContent = registerError.textContent = '';
    form.querySelector('input').focus();
  }

  byId('show-register').addEventListener('click', () => showForm(registerForm));
  byId('show-login').addEventListener('click', () => showForm(loginForm));

  async function submitting(form, errorNode, work) {
    const button = form.querySelector('[type=submit]');
    button.disabled = true;
    errorNode.textContent = '';
    try {
      await work();
    } catch (failure) {
      errorNode.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  }

  loginForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = byId('login-email').value.trim();
    const password = byId('login-password').value;
    if (!email || !password) {
      loginError.textContent = 'Enter your email and password.';
      return;
    }
    submitting(loginForm, loginError, async () => {
      const tokens = await api.login(email, password);
      byId('login-password').value = '';
      onLoggedIn(tokens);
    });
  });

  registerForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId('register-name').value.trim();
    const email = byId('register-email').value.trim();
    const password = byId('register-password').value;
    if (!name || !email || password.length < 6) {
      registerError.textContent = 'Enter your name, your email and a password of at least 6 characters.';
      return;
    }
    submitting(registerForm, registerError, async () => {
      await api.register(name, email, password);
      const tokens = await api.login(email, password);
      byId('register-password').value = '';
      onLoggedIn(tokens);
    });
  });

  return {
    show(message = '') {
      view.hidden = false;
      showForm(loginForm);
      loginError.textContent = message;
    },
    hide() {
      view.hidden = true;
    },
  };
}
