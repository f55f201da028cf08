-- mod_auth_codeb: Prosody asks the tenant's CodeB who may sign in.
--
-- A CodeB account signs in to a native XMPP client (Conversations, Monal, Gajim) with an
-- app password it made on its account page; CodeB keeps it, Prosody keeps nothing. For each
-- SASL PLAIN attempt this module POSTs the login and password to CodeB's HTTP auth endpoint
-- (codeb/web/xmpp.py) and signs the person in only on the answer 200 "true". The password
-- travels in the request body over HTTPS, never in a URL, so no access log holds it.
--
-- Configuration, per virtual host (`python -m codeb xmpp-auth-secret TENANT` prints it):
--
--   VirtualHost "login.example.com"
--     authentication = "codeb"
--     codeb_auth_url = "https://login.example.com/xmpp/auth"
--     codeb_auth_secret = "<the tenant's secret>"
--
-- With `codeb_oauthbearer = true` (and mod_sasl_oauthbearer from prosody-modules installed)
-- a client may also sign in with SASL OAUTHBEARER and an access token of the tenant's office
-- shell, which CodeB checks like the shell's own requests (check_token).
--
-- Accounts are made, renamed and removed in CodeB; registration and password changes here
-- are refused. Any answer but 200 "true" (a network error, a timeout, 401 for a wrong
-- secret, a refusal) is a "no": the module fails closed.
--
-- This file is part of CodeB; it uses only Prosody's own libraries (Prosody 0.12 or later).

local new_sasl = require "util.sasl".new;
local http = require "net.http";
local async = require "util.async";

local host = module.host;
local auth_url = module:get_option_string("codeb_auth_url", ""):gsub("/+$", "");
local auth_secret = module:get_option_string("codeb_auth_secret", "");
local timeout = module:get_option_number("codeb_auth_timeout", 10);

local oauthbearer = module:get_option_boolean("codeb_oauthbearer", false);

if auth_url == "" then error("mod_auth_codeb: codeb_auth_url is required") end
if auth_secret == "" then error("mod_auth_codeb: codeb_auth_secret is required") end
if not auth_url:match("^https://") and not auth_url:match("^http://127%.0%.0%.1[:/]")
		and not auth_url:match("^http://localhost[:/]") and not auth_url:match("^http://%[::1%][:/]") then
	error("mod_auth_codeb: codeb_auth_url must be https:// (plain http only to the loopback)");
end

if oauthbearer then
	-- SASL OAUTHBEARER (RFC 7628): the mechanism is mod_sasl_oauthbearer's (prosody-modules);
	-- the token is an access token of the tenant's office shell, which CodeB checks.
	module:depends("sasl_oauthbearer");
end

local function ask(method, params)
	-- POST <codeb_auth_url>/<method> with the fields form-encoded; true only on 200 "true".
	-- An answer that has not come in `codeb_auth_timeout` seconds is a "no" (a late one is ignored).
	local wait, done = async.waiter();
	local answer, status, timer;
	local function finish(body, code)
		if status ~= nil then return; end
		answer, status = body, code;
		if timer then timer:stop(); end
		done();
	end
	params.server = host;
	http.request(auth_url .. "/" .. method, {
		method = "POST";
		headers = {
			["Authorization"] = "Bearer " .. auth_secret;
			["Content-Type"] = "application/x-www-form-urlencoded";
			["Accept"] = "text/plain";
		};
		body = http.formencode(params);
		suppress_errors = true;
	}, finish);
	if status == nil then
		timer = module:add_timer(timeout, function () finish(nil, "timeout"); end);
		wait();
	end
	if status ~= 200 then
		module:log("warn", "CodeB answered %s to %s", tostring(status), method);
		return false;
	end
	return answer == "true";
end

local provider = {};

function provider.test_password(username, password)
	return ask("check_password", { user = username, pass = password });
end

function provider.user_exists(username)
	return ask("user_exists", { user = username });
end

function provider.users()
	return function () return nil; end
end

function provider.get_password()
	return nil, "Passwords are not readable";
end

function provider.set_password()
	return nil, "App passwords are made on the CodeB account page";
end

function provider.create_user()
	return nil, "Accounts are made in CodeB";
end

function provider.delete_user()
	return nil, "Accounts are removed in CodeB";
end

function provider.get_sasl_handler()
	local profile = {
		plain_test = function (_, username, password)
			return provider.test_password(username, password), true;
		end;
	};
	if oauthbearer then
		profile.oauthbearer = function (_, username, token)
			return ask("check_token", { user = username, token = token }), true;
		end;
	end
	return new_sasl(host, profile);
end

module:provides("auth", provider);
