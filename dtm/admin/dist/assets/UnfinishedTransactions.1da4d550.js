import{_ as n,c as e,o}from"./index.05cf24d5.js";const c={};function r(s,t){return o(),e("h1",null,"Coming Soon")}const _=n(c,[["render",r]]);export{_ as default};
